"""Validation issues in the person's language: a template per code, node names translated, English fallback."""

from __future__ import annotations

import re

import pytest

from app import ui_support
from graph_runtime.validate import validate_graph
from tests.conftest import ROOT
from tests.graph_runtime.test_validate import graph, node
from ui.editor_model import EditorModel
from ui.i18n import MESSAGES, config_problem_text, issue_text

SPANISH_NAMES = {"text.join": "Unir textos", "io.input": "Entrada", "io.output": "Salida"}


def codes_in_the_runtime() -> set[str]:
    """Every issue code that graph_runtime/ and app/ can report (grep-like, so a new check is not forgotten)."""
    codes = set()
    for path in [*(ROOT / "graph_runtime").glob("*.py"), *(ROOT / "app").glob("*.py")]:
        source = path.read_text(encoding="utf-8")
        for code in re.findall(r'(?:\.add|\bIssue|\bLoopProblem)\(\s*f?"([a-z_{}]+)"', source):
            codes |= {code.replace("{what}", w) for w in ("input", "output")} if "{what}" in code else {code}
    return codes


def test_every_issue_code_has_a_template_in_both_languages():
    codes = codes_in_the_runtime()
    assert {"cycle", "type_mismatch", "invalid_config", "duplicate_input_name", "too_many_nodes", "loop_leak",
            "secret_missing"} <= codes
    for lang in ("es", "en"):
        missing = [c for c in codes if not any(k == f"issue.{c}" or k.startswith(f"issue.{c}.")
                                               for k in MESSAGES[lang])]
        assert not missing, f"add issue templates to ui/i18n.py ({lang}): {sorted(missing)}"


def test_issues_read_in_spanish_with_translated_node_names(services):
    # Given a join with an image wired into a text input and its other input left unconnected
    spec = graph([node("photo", "io.input", name="photo", kind="image"), node("j", "text.join"),
                  node("out", "io.output", name="result")],
                 [("photo", "value", "j", "text_2"), ("j", "text", "out", "value")])

    issues = [i.to_json() for i in validate_graph(spec, services.registry)]

    assert [issue_text(i, SPANISH_NAMES, "es") for i in issues] == [
        ("El puerto «text_2» de Unir textos #j espera Text, pero recibe Image de Entrada #photo; conecte una "
         "salida de tipo Text o ponga en medio un nodo que lo convierta."),
        "La entrada «text_1» (Text) de Unir textos #j no está conectada; conecte un nodo que la produzca.",
    ]
    # the English template says what the English message says
    assert [issue_text(i, lang="en") for i in issues] == [i["message"] for i in issues]


def test_a_label_names_the_node_and_a_cycle_reads_as_a_path(services):
    spec = graph([{**node("a", "text.join", parts=1), "label": "Saludo"}, node("b", "text.join", parts=1)],
                 [("a", "text", "b", "text_1"), ("b", "text", "a", "text_1")])

    issues = [i.to_json() for i in validate_graph(spec, services.registry)]

    cycle = next(i for i in issues if i["code"] == "cycle")
    assert issue_text(cycle, SPANISH_NAMES, "es").startswith(
        "Estos nodos forman un ciclo: Saludo #a → Unir textos #b → Saludo #a. ")


@pytest.mark.parametrize("config, expected", [
    ({"parts": 99}, "El ajuste «parts» de Unir textos #j debe ser como máximo 20."),
    ({"parts": "many"}, "El ajuste «parts» de Unir textos #j debe ser un número entero."),
])
def test_bad_settings_read_in_spanish(services, config, expected):
    spec = graph([node("j", "text.join", **config), node("out", "io.output", name="r")],
                 [("j", "text", "out", "value")])

    issues = [i.to_json() for i in validate_graph(spec, services.registry) if i.code == "invalid_config"]

    assert [issue_text(i, SPANISH_NAMES, "es") for i in issues] == [expected]


def test_an_issue_without_a_template_shows_its_english_message():
    plugin_issue = {"code": "acme_quota", "message": "The Acme quota is used up.", "params": {"left": 0}}
    incomplete = {"code": "type_mismatch", "message": "Port 'x' is wrong.", "params": {"port": "x"}}
    no_params = {"code": "format", "message": "The file is not JSON.", "node_id": None, "port": None}

    assert issue_text(plugin_issue, lang="es") == "The Acme quota is used up."
    assert issue_text(incomplete, lang="es") == "Port 'x' is wrong."  # a value the template needs is missing
    assert issue_text(no_params, lang="es") == "The file is not JSON."
    assert issue_text({"code": "no_outputs", "message": "x", "params": {}}, lang="es").startswith(
        "El grafo no tiene ningún nodo Salida")


def test_a_settings_problem_under_its_field_reads_in_spanish(services):
    def spanish(problem):
        return config_problem_text(problem, "es")

    assert ui_support.config_problems(services, "text.join", {"parts": 99}, spanish) == {
        "parts": "Debe ser como máximo 20."}
    assert ui_support.config_problems(services, "text.join", {"parts": "x"}, spanish) == {
        "parts": "Debe ser un número entero."}
    # a problem without a template keeps pydantic's sentence; without `describe`, pydantic's English as before
    problems = ui_support.config_problems(services, "text.template", {"template": "{{ oops"}, spanish)
    assert problems[""].startswith("The template has a mistake on line 1"), problems
    assert ui_support.config_problems(services, "text.join", {"parts": 99}) == {
        "parts": "Input should be less than or equal to 20"}


def test_the_editor_model_in_spanish_refuses_wires_and_names_problems_in_spanish(services):
    empty = {"format_version": 2, "meta": {"name": "G"}, "nodes": [], "edges": []}
    model = EditorModel(services, empty, ui_support.catalogue(services, "es"), "es")
    a = model.add_node("json.get")
    j = model.add_node("text.join")

    assert model.connect(a, "value", j, "text_1") == "«text_1» espera Text, pero «value» da Json."
    assert model.connect(j, "text", j, "text_2") == "Un nodo no puede alimentarse a sí mismo."
    nodes, _ = model.flow()
    join = next(n for n in nodes if n["id"] == j)
    assert "La entrada «text_1» (Text) de Unir textos #join_1 no está conectada" in join["data"]["issues"][0]
    # without a language the model keeps the English sentences (API-like use, the tests of its rules)
    english = EditorModel(services, model.spec, services.registry.catalogue())
    assert english.connect(a, "value", j, "text_1") == "'text_1' expects Text but 'value' gives Json."


# --- the pages -------------------------------------------------------------------------------------------


def broken_graph(user) -> str:
    spec = {"format_version": 2, "meta": {"name": "Roto"},
            "nodes": [node("j", "text.join"), node("out", "io.output", name="r")],
            "edges": [{"source": "j", "source_port": "text", "target": "out", "target_port": "value"}]}
    return user.services.graphs.save(spec).graph_id


@pytest.mark.anyio
async def test_the_editor_speaks_spanish(user):
    gid = broken_graph(user)

    await user.open(f"/graphs/{gid}/edit")

    await user.should_see("La entrada «text_1» (Text) de Unir textos #j no está conectada; conecte un nodo que la "
                          "produzca.")
    await user.should_see("Unir textos")  # the palette
    await user.should_see("Texto")  # a category
    canvas = user.find(marker="canvas").elements.pop()
    join = next(n for n in canvas.nodes if n["id"] == "j")
    assert join["data"]["label"] == "Unir textos"
    assert join["data"]["description"] == "Une varios textos en uno, en orden, con un separador."
    assert [p["description"] for p in join["data"]["inputs"]] == ["Texto número 1", "Texto número 2"]
    assert join["data"]["issues"][0].startswith("La entrada «text_1» (Text) de Unir textos #j")


@pytest.mark.anyio
async def test_the_editor_in_english_keeps_the_english_texts(user):
    user.http_client.headers["accept-language"] = "en-GB,en;q=0.9"
    gid = broken_graph(user)

    await user.open(f"/graphs/{gid}/edit")

    await user.should_see("Input 'text_1' (Text) of Join texts #j is not connected; connect a node that produces it.")
    canvas = user.find(marker="canvas").elements.pop()
    join = next(n for n in canvas.nodes if n["id"] == "j")
    assert [p["description"] for p in join["data"]["inputs"]] == ["Text number 1", "Text number 2"]


@pytest.mark.anyio
async def test_the_run_form_lists_the_problems_in_spanish(user):
    gid = broken_graph(user)

    await user.open(f"/graphs/{gid}/run")

    await user.should_see("• La entrada «text_1» (Text) de Unir textos #j no está conectada; conecte un nodo que "
                          "la produzca.")


@pytest.mark.anyio
async def test_the_catalogue_page_shows_settings_in_spanish(user):
    await user.open("/nodes")

    await user.should_see("Unir textos")
    await user.should_see("Partes")
    await user.should_see("Cuántos textos unir")
    user.find("search").type("imagen")  # a Spanish category
    await user.should_see(marker="node-type-image.convert")
    await user.should_not_see(marker="node-type-text.join")


@pytest.mark.anyio
async def test_the_settings_form_speaks_spanish(user):
    spec = {"format_version": 2, "meta": {"name": "Ajustes"},
            "nodes": [node("j", "text.join", parts=99, separator=" ")], "edges": []}
    gid = user.services.graphs.save(spec).graph_id
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()

    for listener in canvas._event_listeners.values():  # the person clicks the node on the canvas
        if listener.type == "selection":
            canvas._handle_event({"listener_id": listener.id, "args": {"nodes": ["j"]}})

    await user.should_see(marker="node-panel")
    await user.should_see("Partes")  # the field's title
    await user.should_see("Cuántos textos unir")
    await user.should_see("Debe ser como máximo 20.")
