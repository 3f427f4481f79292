"""The one sandbox policy for every template a user writes (DOCX, Markdown, HTML, file names).

Templates come from people, not programmers we trust: they run in Jinja2's immutable sandbox (no
attribute starting with '_', no method that changes data), with undefined names as errors unless a
placeholder is asked for, with `*` and `**` checked so that `'x' * 10**9` cannot fill the memory, and
with the output counted while it is produced. Errors become NodeErrors with sentences.
"""

from __future__ import annotations

import operator
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from .base import NodeError
from .files import safe_file_name

MAX_OUTPUT_CHARS = 5_000_000
MAX_REPEAT = 1_000_000  # longest string or list that `*` may build
MAX_EXPONENT = 100


class OutputTooLarge(TemplateError):
    pass


class BoundedTemplate(Template):
    """A template whose `render` stops once the output passes the environment's `max_output_chars`."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        limit = getattr(self.environment, "max_output_chars", MAX_OUTPUT_CHARS)
        chunks, size = [], 0
        for chunk in self.generate(*args, **kwargs):
            size += len(chunk)
            if size > limit:
                raise OutputTooLarge(f"the filled template is longer than {limit:,} characters")
            chunks.append(chunk)
        return "".join(chunks)


class Sandbox(ImmutableSandboxedEnvironment):
    template_class = BoundedTemplate
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, max_output_chars: int = MAX_OUTPUT_CHARS, **options: Any):
        super().__init__(**options)
        self.max_output_chars = max_output_chars

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"powers above {MAX_EXPONENT} are not allowed")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                raise SecurityError(f"repeating something into more than {MAX_REPEAT:,} items is not allowed")
        return operator.mul(left, right)


def placeholder_undefined(text: str) -> type[ChainableUndefined]:
    """An Undefined that prints `text`, is false in `{% if %}` and empty in `{% for %}`.

    A name the sandbox refused (`''.__class__`) is also undefined, with SecurityError as its exception:
    that one still fails, so a placeholder never hides an attack.
    """

    class Placeholder(ChainableUndefined):
        __slots__ = ()

        def __str__(self) -> str:
            if self._undefined_exception is not UndefinedError:
                self._fail_with_undefined_error()
            return text

        def __html__(self) -> str:
            return str(escape(str(self)))

    return Placeholder


def sandbox(*, autoescape: bool, placeholder: str | None = None,
            max_output_chars: int = MAX_OUTPUT_CHARS) -> Sandbox:
    """The environment for a user's template; `autoescape` for HTML and DOCX (XML), not for plain text."""
    undefined = StrictUndefined if placeholder is None else placeholder_undefined(placeholder)
    return Sandbox(undefined=undefined, autoescape=autoescape, keep_trailing_newline=True,
                   max_output_chars=max_output_chars)


def template_failure(exc: Exception, where: str = "") -> NodeError:
    """The NodeError to raise for an exception from parsing or filling a template."""
    reason = str(exc).rstrip(".")
    if isinstance(exc, SecurityError):
        return NodeError(f"The template tried something that is not allowed ({reason}); nothing was run.",
                         code="template_forbidden")
    if isinstance(exc, TemplateSyntaxError):
        return NodeError(f"The template has a mistake on line {exc.lineno}{where}: {reason}.", code="template_syntax")
    if isinstance(exc, OutputTooLarge):
        return NodeError(f"The template could not be filled: {reason}.", code="output_too_large")
    if isinstance(exc, UndefinedError):
        return NodeError(f"The template refers to something that does not exist: {reason}.", code="template_error")
    if isinstance(exc, TypeError) and "NoneType" in reason:
        return NodeError(f"The template could not be filled{where}: a value it calculates with is empty ({reason}). "
                         "Fill in the missing value (e.g. an empty cell in the spreadsheet) or give it a default "
                         "in the template, like {{ amount or 0 }}.", code="template_empty_value")
    return NodeError(f"The template could not be filled: {reason}.", code="template_error")


#: What `template_failure` translates; anything else is a bug and surfaces as unexpected.
TEMPLATE_ERRORS = (TemplateError, TypeError, ValueError, OverflowError, ZeroDivisionError)


def variables_of(env: Sandbox, source: str) -> set[str]:
    """The names a text template uses and does not define itself (a syntax error becomes a NodeError)."""
    try:
        return meta.find_undeclared_variables(env.parse(source)) - set(env.globals)
    except TEMPLATE_ERRORS as exc:
        raise template_failure(exc) from None


def render_text(env: Sandbox, source: str, values: dict[str, Any]) -> str:
    try:
        return env.from_string(source).render(values)
    except TEMPLATE_ERRORS as exc:
        raise template_failure(exc) from None


def check_name_template(pattern: str) -> str:
    """Config validator for file-name templates: a parse error becomes a ValueError with the reason."""
    try:
        sandbox(autoescape=False).parse(pattern)
    except TemplateSyntaxError as exc:
        raise ValueError(f"the file name template has a mistake: {str(exc).rstrip('.')}") from None
    return pattern


def render_file_name(pattern: str, values: dict[str, Any], *, default: str, extension: str,
                     placeholder: str | None = None) -> str:
    """Fill a file-name template such as `contrato-{{ client }}` and make the result a safe file name."""
    name = default
    if pattern.strip():
        try:
            name = sandbox(autoescape=False, placeholder=placeholder, max_output_chars=1000) \
                .from_string(pattern).render(values)
        except TEMPLATE_ERRORS as exc:
            error = template_failure(exc, " of the file name")
            raise NodeError(error.message.replace("The template", "The file name template", 1),
                            code=error.code) from None
    return safe_file_name(name, extension, fallback=safe_file_name(default, fallback="document"))


def check_variable_names(names: list[str], reserved: set[str]) -> list[str]:
    """Config validator for 'one input per name' lists."""
    for name in names:
        if not name.isidentifier() or not name.islower() or name.startswith("_"):
            raise ValueError(f"'{name}' is not a usable name; use lower-case letters, digits and _")
        if name in reserved:
            raise ValueError(f"'{name}' is already an input of this node; choose another name")
    if len(set(names)) != len(names):
        raise ValueError("each variable name may appear only once")
    return names
