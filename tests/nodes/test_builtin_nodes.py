"""The built-in node types, run directly with a real NodeContext on a real artifact store."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from app.services import Services
from graph_runtime.validate import plain_errors
from nodes.base import NodeContext, NodeError, NodeInputError, NoPorts
from nodes.graph_io import GraphInput, GraphOutput, InputConfig, OutputConfig, OutputIn, coerce_input
from nodes.json_get import GetConfig, GetIn, JsonGet, parse_path
from nodes.ports import FileRef
from nodes.text import JoinConfig, JoinIn, TemplateConfig, TemplateIn, TextJoin, TextTemplate
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[Services]:
    # One store for the module: building Services (database migrations) per test would triple the run time.
    # Not started, so no worker thread: these tests run the nodes themselves.
    svc = Services(make_settings(tmp_path_factory.mktemp("data")))
    yield svc
    svc.close()


@pytest.fixture
def ctx(services: Services) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="n1", artifacts=services.artifacts)


def fill(ctx: NodeContext, template: str, **values) -> str:
    config = TemplateConfig(template=template, variables=sorted(values))
    return TextTemplate().run(ctx, config, TemplateIn(**values)).text


# --- text.template ----------------------------------------------------------------------------------------


def test_template_fills_values(ctx):
    text = fill(ctx, "Estimado/a {{ client }}:\nGracias por confiar en {{ firm }}.", client="Ana", firm="MindDocs")

    assert text == "Estimado/a Ana:\nGracias por confiar en MindDocs."


def test_template_keeps_the_trailing_newline_and_uses_loops_and_filters(ctx):
    text = fill(ctx, "{% for r in rooms %}{{ r.number }} {{ r.type | upper }}\n{% endfor %}",
                rooms=[{"number": "204", "type": "doble"}, {"number": "12", "type": "single"}])

    assert text == "204 DOBLE\n12 SINGLE\n"


def test_template_does_not_escape_html(ctx):
    assert fill(ctx, "{{ x }}", x="<b>Ana & Co</b>") == "<b>Ana & Co</b>"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ client.__class__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ [].append(1) }}",
    ],
)
def test_sandbox_blocks_template_injection(ctx, template):
    with pytest.raises(NodeError) as caught:
        fill(ctx, template, client="Ana")

    assert caught.value.code == "template_forbidden"
    assert caught.value.message.startswith("The template tried something that is not allowed (")
    assert "Traceback" not in caught.value.message


def test_reaching_for_a_field_that_is_not_there_is_a_template_error(ctx):
    with pytest.raises(NodeError) as caught:
        fill(ctx, "{{ client.name }}", client="Ana")

    assert caught.value.code == "template_error"
    assert caught.value.message == ("The template refers to something that does not exist: 'str object' has no "
                                    "attribute 'name'.")


def test_a_huge_range_is_a_template_error_with_one_full_stop(ctx):
    with pytest.raises(NodeError) as caught:
        fill(ctx, "{{ range(10**9) | list | length }}")

    assert caught.value.code == "template_error"
    assert "Range too big" in caught.value.message
    assert not caught.value.message.endswith(".."), caught.value.message


def test_output_longer_than_five_million_characters_is_refused(ctx):
    with pytest.raises(NodeError) as caught:
        fill(ctx, "{% for i in range(60000) %}{{ 'x' * 100 }}{% endfor %}")

    assert caught.value.code == "output_too_large"


def test_one_huge_repetition_is_refused_before_it_is_built(ctx):
    with pytest.raises(NodeError) as caught:
        fill(ctx, "{{ 'x' * 10**10 }}")

    assert caught.value.code == "template_forbidden"


def test_a_runaway_loop_is_stopped_before_it_fills_the_memory(ctx):
    # Given a template whose loops would write 200 million characters
    template = "{% for i in range(100000) %}{% for j in range(2) %}{{ page }}{% endfor %}{% endfor %}"

    # When it is filled
    tracemalloc.start()
    try:
        with pytest.raises(NodeError) as caught:
            fill(ctx, template, page="x" * 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then it is refused once it passes the limit, not after building the whole text
    assert caught.value.code == "output_too_large"
    assert peak < 100 * 1024 * 1024, f"filling used {peak / 2**20:.0f} MiB before refusing the output"


def test_config_refuses_an_undeclared_variable_readably():
    with pytest.raises(ValidationError) as caught:
        TemplateConfig(template="Dear {{ nombre }} and {{ firm }}", variables=["name"])

    assert plain_errors(caught.value) == [
        ("", "the template uses firm, nombre but no such variable is declared; add it")]


def test_config_refuses_a_syntax_error_readably():
    with pytest.raises(ValidationError) as caught:
        TemplateConfig(template="Dear {{ name }},\n{% if name %}welcome", variables=["name"])

    ((field, message),) = plain_errors(caught.value)
    assert field == ""
    assert message.startswith("the template has a mistake on line 2: ")


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [(["Name"], "'Name' is not a usable name"), (["_secret"], "'_secret' is not a usable name"),
     (["first name"], "'first name' is not a usable name"),
     (["a", "a"], "each variable name may appear only once")],
)
def test_config_refuses_unusable_variable_names(variables, fragment):
    with pytest.raises(ValidationError) as caught:
        TemplateConfig(template="", variables=variables)

    assert fragment in str(caught.value)


def test_template_ports_follow_the_variables():
    ports = TextTemplate.input_ports(TemplateConfig(template="{{ a }}{{ b }}", variables=["a", "b"]))

    assert [(p.name, str(p.type), p.required) for p in ports] == [("a", "Any", True), ("b", "Any", True)]


# --- text.join --------------------------------------------------------------------------------------------


def join(ctx: NodeContext, **config_and_texts) -> str:
    texts = {k: v for k, v in config_and_texts.items() if k.startswith("text_")}
    config = JoinConfig(**{k: v for k, v in config_and_texts.items() if k not in texts})
    return TextJoin().run(ctx, config, JoinIn(**texts)).text


def test_join_keeps_the_order_of_the_ports_not_of_the_arguments(ctx):
    assert join(ctx, parts=3, separator=" | ", text_3="c", text_1="a", text_2="b") == "a | b | c"


def test_join_skips_empty_and_blank_texts_by_default(ctx):
    assert join(ctx, parts=4, separator="-", text_1="a", text_2="", text_3="   ", text_4="d") == "a-d"


def test_join_keeps_empty_texts_when_asked(ctx):
    assert join(ctx, parts=3, separator="-", skip_empty=False, text_1="a", text_3="c") == "a--c"


def test_join_ignores_texts_beyond_its_parts(ctx):
    assert join(ctx, parts=2, separator="+", text_1="a", text_2="b", text_3="c") == "a+b"


def test_join_default_separator_is_a_blank_line(ctx):
    assert join(ctx, text_1="Dear Ana,", text_2="Welcome.") == "Dear Ana,\n\nWelcome."


def test_join_ports_follow_parts():
    ports = TextJoin.input_ports(JoinConfig(parts=3))

    assert [(p.name, p.required) for p in ports] == [("text_1", True), ("text_2", False), ("text_3", False)]


# --- json.get ---------------------------------------------------------------------------------------------

DATA = {"a": {"b": [{"c": 1}, {"c": 0}]}, "client": {"name": "Ana", "vip": False}, "7": "seven"}


def get(ctx: NodeContext, path: str, data=DATA, default=None):
    return JsonGet().run(ctx, GetConfig(path=path, default=default), GetIn(data=data)).value


@pytest.mark.parametrize(
    ("path", "value"),
    [("a.b[0].c", 1), ("a.b.0.c", 1), ("a.b[1].c", 0), ("client.vip", False), ("client", DATA["client"]),
     ("7", "seven")],
)
def test_json_get_follows_paths(ctx, path, value):
    assert get(ctx, path) == value


def test_parse_path_reads_both_index_styles():
    assert parse_path("client.addresses[0].city") == parse_path("client.addresses.0.city") == [
        "client", "addresses", 0, "city"]


def test_a_missing_field_lists_what_exists(ctx):
    with pytest.raises(NodeInputError) as caught:
        get(ctx, "client.email")

    assert caught.value.port == "data"
    assert caught.value.code == "bad_input"
    assert caught.value.message == "There is no 'email' in client; it has: name, vip."


def test_a_missing_top_level_field_says_the_data(ctx):
    with pytest.raises(NodeInputError) as caught:
        get(ctx, "booking")

    assert caught.value.message == "There is no 'booking' in the data; it has: a, client, 7."


def test_an_index_past_the_end_says_how_long_the_list_is(ctx):
    with pytest.raises(NodeInputError) as caught:
        get(ctx, "a.b[5].c")

    assert caught.value.message == "There is no '5' in a.b; it is a list of 2 item(s), counted from 0."


def test_a_field_of_a_plain_value_says_what_the_value_is(ctx):
    with pytest.raises(NodeInputError) as caught:
        get(ctx, "client.name.first")

    assert caught.value.message == "There is no 'first' in client.name; it is a str, not an object."


def test_the_default_stands_in_for_a_missing_field(ctx):
    assert get(ctx, "client.email", default="no email") == "no email"
    assert get(ctx, "a.b[9]", default=0) == 0
    assert get(ctx, "client.name", default="unused") == "Ana"


@pytest.mark.parametrize("path", ["", "...", "[]"])
def test_a_path_without_a_field_is_an_invalid_setting(path):
    with pytest.raises(ValidationError):
        GetConfig(path=path)


# --- io.input and io.output -------------------------------------------------------------------------------


def give(ctx: NodeContext, value, **config):
    ctx.graph_inputs = {} if value is None else {config["name"]: value}
    return GraphInput().run(ctx, InputConfig(**config), NoPorts()).value


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [("text", "Ana", "Ana"), ("number", "3.5", 3.5), ("number", 2, 2.0), ("bool", "true", True),
     ("bool", 0, False), ("json", {"a": [1]}, {"a": [1]}), ("json", "plain", "plain")],
)
def test_input_coerces_values_to_its_kind(ctx, kind, raw, value):
    assert give(ctx, raw, name="x", kind=kind) == value


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [("number", "three", "The graph input 'age' expects a number value, got str 'three'."),
     ("bool", "maybe", "The graph input 'age' expects a bool value, got str 'maybe'."),
     ("text", 42, "The graph input 'age' expects a text value, got int '42'."),
     ("file", "notes.txt", "The graph input 'age' expects a stored file, got str 'notes.txt'."),
     ("image", {"artifact": "../../etc/passwd", "name": "x", "size": 1},
      "The graph input 'age' expects a stored file, got dict ")],
)
def test_input_refuses_values_of_the_wrong_kind(ctx, kind, raw, message):
    with pytest.raises(NodeInputError) as caught:
        give(ctx, raw, name="age", kind=kind)

    assert caught.value.port == "value"
    assert caught.value.message.startswith(message)


def test_input_takes_a_stored_file(ctx, services):
    ref = services.artifacts.put_bytes(b"hello", name="notes.txt")

    value = give(ctx, ref.model_dump(), name="doc", kind="document")

    assert value == ref and isinstance(value, FileRef)


def test_input_falls_back_to_its_default(ctx):
    assert give(ctx, None, name="firm", kind="text", default="MindDocs Abogados") == "MindDocs Abogados"


def test_input_without_value_or_default_says_which_input(ctx):
    with pytest.raises(NodeInputError) as caught:
        give(ctx, None, name="client_name", kind="text")

    assert caught.value.message == "The graph input 'client_name' was not given; provide a value for it."


def test_coerce_input_long_values_are_cut_in_the_message():
    with pytest.raises(ValueError) as caught:
        coerce_input("number", "x" * 500)

    assert len(str(caught.value)) < 120


def test_input_port_type_follows_its_kind():
    assert [str(p.type) for p in GraphInput.output_ports(InputConfig(name="photo", kind="image"))] == ["Image"]
    assert [str(p.type) for p in GraphInput.output_ports(InputConfig(name="n", kind="number"))] == ["Number"]


def test_output_node_passes_nothing_on(ctx):
    assert GraphOutput().run(ctx, OutputConfig(name="letter"), OutputIn(value="text")) == NoPorts()


@pytest.mark.parametrize("name", ["", "1st", "has space", "a-b", "x" * 65])
def test_input_and_output_names_are_identifiers(name):
    with pytest.raises(ValidationError):
        InputConfig(name=name)
    with pytest.raises(ValidationError):
        OutputConfig(name=name)
