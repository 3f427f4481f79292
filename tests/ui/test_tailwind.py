"""The UI's precompiled Tailwind stylesheet (ui/tailwind.css -> ui/static/tailwind.css, see ui/setup.py).

Pages get a stylesheet compiled once by the Tailwind CLI instead of NiceGUI's in-browser compiler, which is
what the editor's load time needs (docs/benchmarks.md). These tests build it with the real CLI from
node_modules (`make install`), into a temporary folder.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nicegui
import pytest

from ui import setup

UI = Path(setup.__file__).resolve().parent
NICEGUI_CSS = [Path(nicegui.__file__).parent / "static" / name
               for name in ("quasar.unimportant.prod.css", "quasar.important.prod.css", "nicegui.css")]


def css_class_defined(name: str, css: str) -> bool:
    escaped = re.sub(r"([^\w-])", r"\\\1", name)  # w-[36rem] -> w-\[36rem\]
    return re.search(r"\." + re.escape(escaped) + r"(?![\w-])", css) is not None


def written_classes() -> dict[str, set[str]]:
    """Class names written as `.classes("...")` in ui/**/*.py -> the files that write them.

    In an f-string a `{value}` on its own is skipped (its values are written whole elsewhere); a word glued to
    one, such as `w-{}`, is kept as it is, so it shows up as undefined: Tailwind cannot see such a class.
    """
    found: dict[str, set[str]] = {}
    for path in sorted(UI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "classes" and node.args):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                text = arg.value
            elif isinstance(arg, ast.JoinedStr):
                text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in arg.values)
            else:
                continue
            for word in text.split():
                if word != "{}":
                    found.setdefault(word, set()).add(str(path.relative_to(UI.parent)))
    return found


@pytest.fixture(scope="module")
def built_css(tmp_path_factory) -> str:
    if not setup.TAILWIND_CLI.is_file():
        pytest.fail(f"{setup.TAILWIND_CLI} is missing: run `make install` (npm ci) first")
    output = tmp_path_factory.mktemp("tailwind") / "tailwind.css"
    setup.build_tailwind(output)
    return output.read_text(encoding="utf-8")


def test_every_class_the_ui_writes_has_a_style(built_css):
    # Given the stylesheets a page gets: the precompiled Tailwind, Quasar/NiceGUI's and our own components'
    known = built_css + "".join(p.read_text(encoding="utf-8") for p in NICEGUI_CSS) \
        + "".join(p.read_text(encoding="utf-8") for p in UI.rglob("*.css") if "static" not in p.parts)
    classes = written_classes()
    assert {"w-full", "gap-4", "text-xl"} <= classes.keys()  # the scan itself finds the UI's classes
    # Then every class name written in ui/ is styled by one of them
    missing = {name: sorted(files) for name, files in classes.items() if not css_class_defined(name, known)}
    assert not missing, (
        f"No stylesheet defines these classes: {missing}. Write Tailwind classes whole in ui/ (not built from "
        "pieces such as f'w-{size}'), or list them in ui/tailwind.css with @source inline(...).")


def test_class_lookup_matches_whole_names_only():
    assert css_class_defined("w-[36rem]", r".w-\[36rem\]{width:36rem}")
    assert not css_class_defined("w-3", r".w-36{width:9rem}")
    assert not css_class_defined("w-{}", r".w-36{width:9rem}")


def test_a_stale_stylesheet_is_rebuilt(tmp_path):
    css = tmp_path / "static" / "tailwind.css"
    css.parent.mkdir()
    css.write_text("/* old */", encoding="utf-8")
    source = tmp_path / "page.py"
    source.write_text("x = 1\n", encoding="utf-8")
    os.utime(css, (1_000_000, 1_000_000))  # older than the page
    text = setup.precompiled_tailwind(css, tmp_path, setup.TAILWIND_CLI)
    assert text is not None and text.startswith("/*! tailwindcss") and ".w-full{" in text
    assert css.read_text(encoding="utf-8") == text
    assert setup.precompiled_tailwind(css, tmp_path, setup.TAILWIND_CLI) == text  # fresh now: read as is


def test_without_the_cli_a_missing_or_stale_stylesheet_falls_back(tmp_path, caplog):
    css = tmp_path / "static" / "tailwind.css"
    no_cli = tmp_path / "no-such-tailwindcss"
    assert setup.precompiled_tailwind(css, tmp_path, no_cli) is None
    assert "is missing" in caplog.text and "make install" in caplog.text
    css.parent.mkdir()
    css.write_text("/* old */", encoding="utf-8")
    os.utime(css, (1_000_000, 1_000_000))
    (tmp_path / "page.py").write_text("x = 1\n", encoding="utf-8")
    assert setup.precompiled_tailwind(css, tmp_path, no_cli) is None
    assert "older than" in caplog.text
    os.utime(css)  # newer than every source: used without the CLI
    assert setup.precompiled_tailwind(css, tmp_path, no_cli) == "/* old */"


@pytest.mark.anyio
async def test_pages_get_the_stylesheet_instead_of_the_in_browser_compiler(user):
    html = (await user.http_client.get("/")).text
    assert setup.TAILWIND_MARK in html and "/*! tailwindcss" in html
    assert "tailwindcss.min.js" not in html
