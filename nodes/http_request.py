"""http.request: call a web address (an API, a webhook) with values from upstream nodes; SSRF-guarded."""

from __future__ import annotations

import http
import json
import mimetypes
import re
from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError, meta
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import NodeContext, NodeError, NodeType, Port, SecretName, TransientNodeError
from .files import safe_file_name
from .net import Fetched, fetch
from .ports import ANY, FILE, JSON, NUMBER, TEXT, FileRef, Number
from .registry import register
from .templating import check_variable_names, render_text, sandbox

_env = sandbox(autoescape=False)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # an HTTP header name (RFC 9110 token)
_FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def check_templates(variables: list[str], **templates: str) -> None:
    """Config check: each template parses and uses only declared variables (ValueError with a sentence)."""
    for what, source in templates.items():
        try:
            used = meta.find_undeclared_variables(_env.parse(source)) - set(_env.globals)
        except TemplateSyntaxError as exc:
            raise ValueError(f"the {what} has a mistake on line {exc.lineno}: {str(exc).rstrip('.')}") from None
        unknown = sorted(used - set(variables))
        if unknown:
            raise ValueError(f"the {what} uses {', '.join(unknown)} but no such variable is declared; add it to "
                             "Variables")


def variable_ports(variables: list[str]) -> list[Port]:
    return [Port(name, ANY, True, f"Value for {{{{ {name} }}}}") for name in variables]


def short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def parse_headers(lines: str) -> list[tuple[str, str]]:
    headers = []
    for number, line in enumerate(lines.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise ValueError(f"header line {number} ('{short(line, 60)}') is not 'Name: value'")
        if name.strip().lower() in _FORBIDDEN_HEADERS:
            raise ValueError(f"the {name.strip()} header is set by MindDocs itself; remove line {number}")
        headers.append((name.strip(), value.strip()))
    return headers


class RequestConfig(BaseModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field("https://", min_length=1, max_length=4000, title="Address (URL)",
                     description="e.g. https://api.example.com/clients/{{ id }}; in a query write "
                     "?q={{ name|urlencode }}")
    variables: list[str] = Field(default_factory=list, max_length=50,
                                 description="One input per name, usable in the address, headers and body")
    headers: str = Field("", max_length=20_000, json_schema_extra={"format": "textarea"},
                         description="One per line, as 'Name: value', e.g. Accept: application/json")
    body_type: Literal["none", "json", "text"] = Field(
        "none", description="json: the body must be valid JSON once filled; write values as {{ value|tojson }}")
    body: str = Field("", max_length=1_000_000, json_schema_extra={"format": "textarea"},
                      description='What to send, e.g. {"name": {{ name|tojson }}}')
    auth_secret: SecretName | None = Field(None, title="Authentication (secret)",
                                           description="A stored secret sent in the authentication header, "
                                           "e.g. an API token")
    auth_header: str = Field("Authorization", pattern=_TOKEN.pattern,
                             description="The header that carries the secret")
    auth_prefix: str = Field("Bearer ", max_length=50,
                             description="Put before the secret; empty for headers such as X-Api-Key")
    response: Literal["json", "text", "file"] = Field("json", description="How to read the answer")
    file_name: str = Field("response", max_length=200,
                           description="Name of the file when the answer is kept as a file")

    @field_validator("variables")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return check_variable_names(names, reserved=set())

    @model_validator(mode="after")
    def _templates(self) -> RequestConfig:
        check_templates(self.variables, address=self.url, headers=self.headers, body=self.body)
        parse_headers(self.headers)
        if self.body.strip() and self.body_type == "none":
            raise ValueError("there is a body but the body type is 'none'; choose json or text")
        return self


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # one input per declared variable


class RequestOut(BaseModel):
    status: Number = Field(description="The HTTP status code, e.g. 200")
    data: Annotated[Any, JSON] = None
    text: Annotated[str | None, TEXT] = None
    file: Annotated[FileRef | None, FILE] = None


@register
class HttpRequest(NodeType[RequestConfig, RequestIn, RequestOut]):
    """Call a web address (an API or a webhook) and give back its answer as JSON, text or a file.

    Placeholders in the address, headers and body are filled from the node's inputs. Addresses inside
    the company network are refused unless an administrator allowed them (docs/integrations.md).
    Busy servers (429, 5xx) and lost connections are tried again.
    """

    type_id = "http.request"
    display_name = "HTTP request"
    category = "integrations"
    queue = "default"  # waiting on the network, not the CPU
    timeout_s = 300
    max_retries = 2
    retry_delay_s = 2.0
    deterministic = False  # the world answers differently each time; and a POST must really be sent

    @classmethod
    def input_ports(cls, config: RequestConfig) -> list[Port]:
        return variable_ports(config.variables)

    @classmethod
    def output_ports(cls, config: RequestConfig) -> list[Port]:
        answer = {"json": Port("data", JSON, True, "The answer, read as JSON"),
                  "text": Port("text", TEXT, True, "The answer as text"),
                  "file": Port("file", FILE, True, "The answer, stored as a file")}[config.response]
        return [answer, Port("status", NUMBER, True, "The HTTP status code, e.g. 200")]

    def run(self, ctx: NodeContext, config: RequestConfig, inputs: RequestIn) -> RequestOut:
        values = dict(inputs.model_extra or {})
        url = render_text(_env, config.url, values).strip()
        headers: dict[str, str] = {}
        for name, value in parse_headers(config.headers):
            headers[name] = render_text(_env, value, values)
            if "\n" in headers[name] or "\r" in headers[name]:
                raise NodeError(f"The {name} header holds a line break once filled; headers must be one line.",
                                code="bad_header")
        content = self._body(config, values, headers)
        private = ("authorization",)
        if config.auth_secret:
            headers[config.auth_header] = config.auth_prefix + ctx.secret(config.auth_secret, "Authentication")
            private += (config.auth_header.lower(),)
        answer = fetch(ctx.limits.network, config.method, url, headers=headers, content=content,
                       private_headers=private)
        ctx.log(f"{config.method} {answer.url.split('?')[0]} answered {answer.status}")
        check_status(answer, config.method)
        status = float(answer.status)
        if config.response == "file":
            return RequestOut(status=status, file=self._file(ctx, config, answer))
        if config.response == "text":
            return RequestOut(status=status, text=decode(answer))
        return RequestOut(status=status, data=read_json(answer))

    @staticmethod
    def _body(config: RequestConfig, values: dict[str, Any], headers: dict[str, str]) -> bytes | None:
        if config.body_type == "none":
            return None
        body = render_text(_env, config.body, values)
        has_type = any(name.lower() == "content-type" for name in headers)
        if config.body_type == "json":
            try:
                json.loads(body)
            except json.JSONDecodeError as exc:
                raise NodeError(f"The body is not valid JSON once filled ({exc.msg} at line {exc.lineno}, column "
                                f"{exc.colno}); write text values as {{{{ value|tojson }}}} so quotes are "
                                "added for you.", code="bad_body") from None
            if not has_type:
                headers["Content-Type"] = "application/json"
        elif not has_type:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode("utf-8")

    @staticmethod
    def _file(ctx: NodeContext, config: RequestConfig, answer: Fetched) -> FileRef:
        media_type = answer.media_type or "application/octet-stream"
        name = config.file_name.strip() or "response"
        if "." not in name.rsplit("/", 1)[-1]:
            name += mimetypes.guess_extension(media_type) or ""
        return ctx.artifacts.put_bytes(answer.content, name=safe_file_name(name, fallback="response"),
                                       media_type=media_type)


def check_status(answer: Fetched, method: str = "") -> None:
    """429 and 5xx are worth another try (TransientNodeError); any other status outside 2xx is a NodeError."""
    if 200 <= answer.status < 300:
        return
    try:
        phrase = http.HTTPStatus(answer.status).phrase
    except ValueError:
        phrase = "unknown status"
    said = short(decode(answer), 300)
    where = f"{method} {answer.url.split('?')[0]}".strip()
    if answer.status == 429 or answer.status >= 500:
        raise TransientNodeError(f"the server answered {answer.status} ({phrase}) to {where}"
                                 + (f": {said}" if said else ""))
    hint = {401: " Check the authentication secret.", 403: " The credentials lack permission for this.",
            404: " Check the address."}.get(answer.status, "")
    raise NodeError(f"The server answered {answer.status} ({phrase}) to {where}"
                    + (f": {said}" if said else "") + "." + hint, code="http_error")


def decode(answer: Fetched) -> str:
    charset = re.search(r"charset=[\"']?([\w.:-]+)", answer.headers.get("content-type", ""), re.IGNORECASE)
    try:
        return answer.content.decode(charset.group(1) if charset else "utf-8", errors="replace")
    except LookupError:
        return answer.content.decode("utf-8", errors="replace")


def read_json(answer: Fetched) -> Any:
    if not answer.content.strip():
        return None  # 204 No Content, or HEAD
    try:
        return json.loads(decode(answer))
    except json.JSONDecodeError:
        kind = answer.media_type or "of no declared type"
        raise NodeError(f"The answer is not JSON (it is {kind}): '{short(decode(answer), 200)}'. Choose 'text' "
                        "or 'file' under Response, or check the address.", code="not_json") from None
