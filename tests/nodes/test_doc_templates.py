"""doc.fill_template on the docxtpl templates of the corpus, and on what a hostile or careless user sends."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from app.services import Services
from nodes.base import NodeContext, NodeError, NodeInputError
from nodes.doc_fill_template import FillConfig, FillIn, FillTemplate
from nodes.files import safe_file_name, sniff
from nodes.ports import FileRef
from tests.conftest import CORPUS
from tests.graphs import edge, graph, node, output

ACME = "ACME <Corp> & Sons"

#: Contexts for the corpus templates, following the structure MANIFEST.tsv describes.
ORDER = {"customer_name": ACME, "company_name": "MindDocs S.L.", "in_europe": True, "is_paid": False,
         "total_price": "150.00", "items": [{"desc": "Bolígrafo azul", "qty": 2, "price": "3.00"},
                                            {"desc": "Libro <tapa dura>", "qty": 1, "price": "144.00"}]}
PROFILE = {"name": "Lucía Pérez", "age": 34, "email": "lucia@example.es", "is_student": False, "has_degree": True,
           "degree_field": "Ingeniería", "skills": ["Python", "Jinja2"], "company_name": ACME, "page_number": 1,
           "projects": [{"name": "MindDocs", "year": 2024, "description": "Automatización de documentos"},
                        {"name": "Atlas", "year": 2021, "description": "Mapas & rutas"}],
           "generation_date": "2024-05-02", "author": "Ana García"}
NESTED = {"dishes": [{"name": "Paella", "ingredients": ["arroz", "azafrán"]},
                     {"name": "Gazpacho", "ingredients": ["tomate", "pepino"]}],
          "authors": [{"name": "Cervantes", "books": [{"title": "Don Quijote"}, {"title": "Novelas ejemplares"}]},
                      {"name": "Lorca", "books": [{"title": "Yerma"}]}]}
CONTEXTS = {"tpl_order_letter.docx": ORDER, "tpl_profile_header_footer.docx": PROFILE,
            "tpl_nested_for_lists.docx": NESTED}
#: The undeclared variables MANIFEST.tsv lists for each template.
MANIFEST_VARIABLES = {
    "tpl_order_letter.docx": {"company_name", "customer_name", "in_europe", "is_paid", "items", "total_price"},
    "tpl_profile_header_footer.docx": {"age", "author", "company_name", "degree_field", "email", "generation_date",
                                       "has_degree", "is_student", "name", "page_number", "projects", "skills"},
    "tpl_nested_for_lists.docx": {"dishes", "authors"},
}


@pytest.fixture
def ctx(store: Services) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="fill", artifacts=store.artifacts)


def put(ctx: NodeContext, content: bytes | Path, name: str = "plantilla.docx") -> FileRef:
    data = content.read_bytes() if isinstance(content, Path) else content
    return ctx.artifacts.put_bytes(data, name=name)


def make_docx(*paragraphs: str, header: str = "", footer: str = "") -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if footer:
        document.sections[0].footer.paragraphs[0].text = footer
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def fill(ctx: NodeContext, template: FileRef, data=None, **config):
    return FillTemplate().run(ctx, FillConfig(**config), FillIn(template=template, data=data))


def docx_text(ctx: NodeContext, ref: FileRef) -> str:
    """Every text of the document: paragraphs, table cells, and the headers and footers of each section."""
    document = docx.Document(str(ctx.artifacts.path(ref)))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    for section in document.sections:
        for block in (section.header, section.footer, section.first_page_header, section.first_page_footer):
            parts += [p.text for p in block.paragraphs]
    return "\n".join(parts)


def strings_in(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [str(value)] if not isinstance(value, bool) else []


# --- the corpus templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_corpus_template_renders_its_data_and_leaves_no_tags(ctx, name):
    out = fill(ctx, put(ctx, CORPUS / name, name), CONTEXTS[name])

    text = docx_text(ctx, out.document)
    for value in strings_in(CONTEXTS[name]):
        assert value in text, value
    assert "{{" not in text and "{%" not in text and "%}" not in text
    assert out.document.name == name.replace(".docx", "-filled.docx") and out.missing == []
    assert sniff(ctx.artifacts.path(out.document)) == "docx"


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_missing_values_are_found_as_docxtpl_and_the_manifest_list_them(ctx, name):
    # docxtpl's own finder, with a sandbox so that even this look leaves the template unevaluated
    found_by_docxtpl = DocxTemplate(str(CORPUS / name)).get_undeclared_template_variables(
        jinja_env=SandboxedEnvironment())
    assert found_by_docxtpl == MANIFEST_VARIABLES[name]

    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, CORPUS / name, name), {})

    assert caught.value.code == "missing_values" and caught.value.port == "data"
    assert caught.value.message.startswith("The template needs values that the data does not have: "
                                           f"{', '.join(sorted(MANIFEST_VARIABLES[name]))}.")


def test_order_letter_repeats_table_rows_and_follows_conditions(ctx):
    paid = fill(ctx, put(ctx, CORPUS / "tpl_order_letter.docx"), {**ORDER, "is_paid": True})
    unpaid = fill(ctx, put(ctx, CORPUS / "tpl_order_letter.docx"), {**ORDER, "in_europe": False})

    table = docx.Document(str(ctx.artifacts.path(unpaid.document))).tables[0]
    rows = [[c.text for c in row.cells] for row in table.rows]
    assert [r[0] for r in rows] == ["Description", "Bolígrafo azul", "Libro <tapa dura>", "Total"]
    assert "You have already paid this order, thank you." in docx_text(ctx, paid.document)
    assert "Please, pay your order : 150.00 Dollars." in docx_text(ctx, unpaid.document)
    assert "already paid" not in docx_text(ctx, unpaid.document)


def test_headers_and_footers_are_filled(ctx):
    out = fill(ctx, put(ctx, CORPUS / "tpl_profile_header_footer.docx"), PROFILE)

    section = docx.Document(str(ctx.artifacts.path(out.document))).sections[0]
    assert section.header.paragraphs[0].text == f"Document for {ACME} - Page 1"
    assert section.footer.paragraphs[0].text == "Generated on 2024-05-02 by Ana García"


def test_markup_in_a_value_is_kept_as_text_and_the_rest_of_the_document_survives(ctx):
    template = make_docx("Estimado/a {{ client }}:", "Le enviamos el contrato.", "{{ note }}", "Atentamente,",
                         "MindDocs", header="Cliente: {{ client }}")

    out = fill(ctx, put(ctx, template), {"client": ACME, "note": "<w:p>no es XML</w:p> & 'comillas'"})

    document = docx.Document(str(ctx.artifacts.path(out.document)))
    assert [p.text for p in document.paragraphs] == [
        f"Estimado/a {ACME}:", "Le enviamos el contrato.", "<w:p>no es XML</w:p> & 'comillas'", "Atentamente,",
        "MindDocs"]
    assert document.sections[0].header.paragraphs[0].text == f"Cliente: {ACME}"


def test_document_properties_get_the_value_unescaped(ctx):
    template = docx.Document()
    template.core_properties.title = "Contrato de {{ client }}"
    template.add_paragraph("{{ client }}")
    out_bytes = io.BytesIO()
    template.save(out_bytes)

    out = fill(ctx, put(ctx, out_bytes.getvalue()), {"client": ACME})

    assert docx.Document(str(ctx.artifacts.path(out.document))).core_properties.title == f"Contrato de {ACME}"


def test_an_image_file_becomes_a_picture(ctx):
    logo = put(ctx, CORPUS / "photo_coffee_spoon.png", "logo.png")
    template = make_docx("Logo: {{ logo }}", "Fin.")

    out = FillTemplate().run(ctx, FillConfig(variables=["logo"], image_width_mm=40),
                             FillIn(template=put(ctx, template), logo=logo.model_dump()))

    document = docx.Document(str(ctx.artifacts.path(out.document)))
    assert len(document.inline_shapes) == 1
    assert round(document.inline_shapes[0].width.mm) == 40
    assert document.paragraphs[-1].text == "Fin."


# --- template injection -------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    "{{ cycler.__init__.__globals__.os.popen('touch %s').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__['os'].popen('touch %s') }}",
    "{{ self._TemplateReference__context.joiner.__init__.__globals__.os.system('touch %s') }}",
])
@pytest.mark.parametrize("missing", ["error", "placeholder"])
def test_template_injection_is_refused_and_nothing_runs(ctx, tmp_path, payload, missing):
    marker = tmp_path / "pwned"
    text = payload.replace("%s", str(marker))
    template = make_docx("Hola {{ client }}", text)

    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, template), {"client": "Ana"}, missing=missing)

    assert caught.value.code == "template_forbidden"
    assert caught.value.message.startswith("The template tried something that is not allowed (")
    assert not marker.exists()


def test_template_injection_in_a_markdown_template_is_refused_too(ctx, tmp_path):
    marker = tmp_path / "pwned"
    template = f"# Hola\n\n{{{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}}}\n".encode()

    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, template, "plantilla.md"), {})

    assert caught.value.code == "template_forbidden" and not marker.exists()


@pytest.mark.parametrize("template", [b"{{ 'x' * 10**9 }}", b"{{ 7 ** 99999999 }}", b"{{ ([1] * 10**7)|length }}"])
def test_runaway_sizes_are_refused_before_they_fill_the_memory(ctx, template):
    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, template, "big.md"), {})

    assert caught.value.code == "template_forbidden"


def test_the_file_name_template_is_sandboxed_too(ctx):
    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, b"Hola", "hola.md"), {}, file_name="{{ ''.__class__.__mro__ }}")

    assert caught.value.code == "template_forbidden"
    assert caught.value.message.startswith("The file name template tried something that is not allowed")


# --- missing values, placeholders, syntax errors ------------------------------------------------------------


def test_placeholder_mode_fills_what_is_missing_and_says_which(ctx):
    data = {k: v for k, v in ORDER.items() if k not in ("customer_name", "items", "is_paid")}

    out = fill(ctx, put(ctx, CORPUS / "tpl_order_letter.docx"), data, missing="placeholder", placeholder="[falta]")

    text = docx_text(ctx, out.document)
    assert out.missing == ["customer_name", "is_paid", "items"]
    assert "Dear [falta]," in text
    assert "Please, pay your order : 150.00 Euros." in text  # a missing condition counts as false
    rows = docx.Document(str(ctx.artifacts.path(out.document))).tables[0].rows
    assert [r.cells[0].text for r in rows] == ["Description", "Total"]  # a missing list has no items


def test_placeholder_reaches_nested_fields(ctx):
    template = put(ctx, b"{{ client.name }} / {{ client.address.city }}\n", "carta.md")

    out = fill(ctx, template, {"client": {"name": "Ana"}}, missing="placeholder", placeholder="??")

    assert ctx.artifacts.path(out.document).read_text() == "Ana / ??\n"


def test_a_syntax_error_names_the_line_and_quotes_the_paragraph(ctx):
    template = make_docx("Estimado/a {{ client }}:", "Gracias.", "{% if paid %}Pagado{% endfi %}", "Fin")

    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, template), {"client": "Ana", "paid": True})

    assert caught.value.code == "template_syntax"
    assert "line 3 (counting paragraphs) of the document body, in the paragraph “{% if paid %}Pagado{% endfi %}”" \
        in caught.value.message
    assert "endfi" in caught.value.message


def test_a_syntax_error_in_a_footer_names_the_footer(ctx):
    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, make_docx("Hola", footer="Página {{ page }")), {"page": 1})

    assert "of footer 1" in caught.value.message and caught.value.code == "template_syntax"


def test_a_syntax_error_in_markdown_names_the_line(ctx):
    source = b"# Pedido\n\nCliente: {{ client }}\n{% if paid %}Pagado{% endfi %}\nFin\n"

    with pytest.raises(NodeError) as caught:
        fill(ctx, put(ctx, source, "pedido.md"), {"client": "Ana", "paid": True})

    assert caught.value.code == "template_syntax"
    assert caught.value.message.startswith("The template has a mistake on line 4: Encountered unknown tag 'endfi'")


# --- Markdown and HTML templates, names, inputs --------------------------------------------------------------


def test_markdown_template_with_loops_and_a_file_name_template(ctx):
    source = ("# Pedido de {{ client }}\n\n{% for item in items %}- {{ item.qty }} × {{ item.desc }}\n{% endfor %}"
              "\n{% if paid %}Pagado.{% else %}Pendiente de pago.{% endif %}\n").encode()

    out = fill(ctx, put(ctx, source, "pedido.md"), {"client": ACME, "paid": False, "items": ORDER["items"]},
               file_name="pedido-{{ client }}")

    assert out.document.name == "pedido-ACME -Corp- & Sons.md" and out.document.media_type == "text/markdown"
    assert ctx.artifacts.path(out.document).read_text() == (
        f"# Pedido de {ACME}\n\n- 2 × Bolígrafo azul\n- 1 × Libro <tapa dura>\n\nPendiente de pago.\n")


def test_html_template_escapes_values(ctx):
    out = fill(ctx, put(ctx, b"<html><body><p>{{ client }}</p></body></html>", "carta.html"), {"client": ACME})

    assert out.document.name == "carta-filled.html"
    expected = "<html><body><p>ACME &lt;Corp&gt; &amp; Sons</p></body></html>"
    assert ctx.artifacts.path(out.document).read_text() == expected


def test_template_uploaded_in_the_settings_and_values_from_variable_inputs(ctx):
    template = put(ctx, make_docx("{{ client }} firma el {{ date }}."))
    config = FillConfig(template_file=template, variables=["client"], file_name="contrato-{{ client }}")

    out = FillTemplate().run(ctx, config, FillIn(data={"date": "2 de mayo", "client": "ignorado"}, client="Ana/Bea"))

    assert docx_text(ctx, out.document).startswith("Ana/Bea firma el 2 de mayo.")
    assert out.document.name == "contrato-Ana-Bea.docx"


def test_data_may_arrive_as_json_text(ctx):
    out = fill(ctx, put(ctx, b"Hola {{ client }}", "hola.txt"), '{"client": "Ana"}')

    assert ctx.artifacts.path(out.document).read_text() == "Hola Ana" and out.document.name == "hola-filled.txt"


@pytest.mark.parametrize("data, says", [([1, 2], "not a list"), ("hola", "The data is text")])
def test_data_that_is_not_named_fields_is_refused(ctx, data, says):
    with pytest.raises(NodeInputError) as caught:
        fill(ctx, put(ctx, b"{{ x }}", "x.md"), data)

    assert caught.value.port == "data" and says in caught.value.message


def test_settings_are_checked_when_the_graph_is_saved():
    with pytest.raises(ValidationError, match="file name template has a mistake"):
        FillConfig(file_name="contrato-{{ client }")
    with pytest.raises(ValidationError, match="already an input"):
        FillConfig(variables=["data"])


@pytest.mark.parametrize("raw, expected", [
    ("../../etc/passwd", "etc-passwd.docx"),
    ("contrato: ACME <Corp>/2024?.docx", "contrato- ACME -Corp-2024-.docx"),
    ("  .hidden  ", "hidden.docx"),
    ("CON", "_CON.docx"),
    ("", "document.docx"),
    ("a" * 300, "a" * 250 + ".docx"),
])
def test_file_names_are_sanitised(raw, expected):
    assert safe_file_name(raw, "docx") == expected


# --- bad input ------------------------------------------------------------------------------------------------


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b" " * 20_000_000 + b"</w:document>")
    return out.getvalue()


def not_really_word() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "this is not XML")
    return out.getvalue()


@pytest.mark.parametrize("content, name, says", [
    (b"", "vacio.docx", "The file is empty (0 bytes)"),
    (b"PK\x03\x04" + b"\x00garbage" * 50, "roto.docx", "This file is a damaged ZIP-based file"),
    (not_really_word(), "falso.docx", "The Word template cannot be opened"),
    ((CORPUS / "pdf_form_libreoffice.pdf").read_bytes(), "plantilla.docx",
     "This file is a PDF file, but Fill template"),
    (zip_bomb(), "bomba.docx", "that looks like a zip bomb, so it was not opened"),
])
def test_bad_template_files_are_refused_clearly(ctx, content, name, says):
    with pytest.raises(NodeInputError) as caught:
        fill(ctx, put(ctx, content, name), {})

    assert says in caught.value.message and caught.value.port == "template"


def test_no_template_at_all(ctx):
    with pytest.raises(NodeInputError, match="There is no template"):
        FillTemplate().run(ctx, FillConfig(), FillIn(data={}))


# --- through the runtime ----------------------------------------------------------------------------------------


def test_a_refused_template_fails_its_node_and_spares_the_other_branch(services):
    # Given a graph where one branch fills a hostile template and another passes a text through
    template = services.runs.upload(io.BytesIO(make_docx("{{ ''.__class__.__mro__ }}")), name="malo.docx")
    nodes = [node("tpl", "io.input", name="template", kind="document"),
             node("fill", "doc.fill_template", missing="placeholder"),
             node("greeting", "io.input", name="greeting", kind="text")]
    out_doc, e_doc = output("out_doc", "filled", "fill", "document")
    out_text, e_text = output("out_text", "greeting_out", "greeting", "value")
    spec = graph(nodes + [out_doc, out_text], [edge("tpl", "fill", "value", "template"), e_doc, e_text])
    assert services.graphs.validate(spec) == []
    version = services.graphs.save(spec)

    # When it runs
    inputs = {"template": template.model_dump(), "greeting": "hola"}
    run = services.runs.wait(services.runs.start(version.id, inputs), timeout_s=60)

    # Then the fill node failed with the sandbox's sentence, and the other branch finished
    nodes_by_id = {n.node_id: n for n in run.nodes}
    assert run.state == "failed"
    assert nodes_by_id["fill"].error_code == "template_forbidden"
    assert nodes_by_id["out_doc"].state == "skipped" and nodes_by_id["out_text"].state == "succeeded"
    assert run.outputs == {"greeting_out": "hola"}


def test_an_empty_value_in_a_calculation_says_which_value_to_fill_in():
    from nodes.templating import render_text, sandbox

    with pytest.raises(NodeError) as caught:
        render_text(sandbox(autoescape=False), "Total: {{ amount * 1.21 }}", {"amount": None})
    assert caught.value.code == "template_empty_value"
    assert "empty" in caught.value.message and "{{ amount or 0 }}" in caught.value.message
