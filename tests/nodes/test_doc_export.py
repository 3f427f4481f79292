"""doc.export and doc.merge_pdf on the corpus: pandoc conversions, both PDF routes, merging, bad input."""

from __future__ import annotations

import io
import os
import shutil
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import docx
import pymupdf
import pytest

from app.services import Services
from nodes.base import NodeContext, NodeError, NodeInputError
from nodes.doc_export import Export, ExportConfig, ExportIn
from nodes.doc_merge_pdf import MergeConfig, MergeIn, MergePdf
from nodes.files import sniff
from nodes.ports import FileRef
from tests.conftest import CORPUS
from tests.graphs import edge, graph, node, output
from tests.nodes.test_doc_templates import ACME, ORDER, zip_bomb

CORPUS_DOCX = sorted(p.name for p in CORPUS.glob("docx_*.docx"))


@pytest.fixture
def ctx(store: Services) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="export", artifacts=store.artifacts)


@pytest.fixture
def without_libreoffice(tmp_path, monkeypatch) -> None:
    """Whatever this machine has installed, these tests see no LibreOffice (pandoc is called by full path)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def put(ctx: NodeContext, content: bytes | Path, name: str | None = None) -> FileRef:
    if isinstance(content, Path):
        return ctx.artifacts.put_file(content, name=name)
    return ctx.artifacts.put_bytes(content, name=name or "document")


def export(ctx: NodeContext, to: str, document: FileRef | None = None, text: str | None = None, **options):
    inputs = {k: options.pop(k) for k in ("style_document", "data") if k in options}
    return Export().run(ctx, ExportConfig(to=to, **options), ExportIn(document=document, text=text, **inputs))


def pdf_text(ctx: NodeContext, ref: FileRef) -> str:
    flags = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES  # the Story's fonts set "ﬀ" ligatures
    with pymupdf.open(ctx.artifacts.path(ref)) as document:
        return " ".join(" ".join(page.get_text(flags=flags).split()) for page in document)


def words(text: str) -> str:
    return " ".join(text.split())


class TableParser(HTMLParser):
    """Tables as [{'caption': str, 'rows': [[(tag, text), ...], ...]}], whitespace normalised."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.buffer: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th", "caption"):
            self.buffer = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append((tag, words("".join(self.buffer))))
            self.buffer = None
        elif tag == "caption":
            self.tables[-1]["caption"] = words("".join(self.buffer))
            self.buffer = None

    def handle_data(self, data):
        if self.buffer is not None:
            self.buffer.append(data)


def tables_of(html: str) -> list[dict]:
    parser = TableParser()
    parser.feed(html)
    return parser.tables


def docx_structure(path: Path) -> tuple[list[tuple[str, str]], list[list[list[str]]], list[str]]:
    """(headings with their style, table cell texts, body paragraphs) as python-docx reads them."""
    document = docx.Document(str(path))
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    tables = [[[" ".join(line for line in cell.text.split("\n") if line.strip()) for cell in row.cells]
               for row in table.rows] for table in document.tables]
    body = [p.text for p in document.paragraphs if p.text.strip()]
    return headings, tables, body


# --- pandoc conversions -----------------------------------------------------------------------------------


def test_markdown_tables_to_html_match_pandocs_expected_structure(ctx):
    out = export(ctx, "html", put(ctx, CORPUS / "md_pandoc_tables.md"))

    produced = tables_of(ctx.artifacts.path(out.document).read_text(encoding="utf-8"))
    expected = tables_of((CORPUS / "md_pandoc_tables.expected.html").read_text(encoding="utf-8"))
    assert len(expected) == 7
    assert produced == expected
    assert out.document.name == "md_pandoc_tables.html" and out.document.media_type == "text/html"
    assert out.info == {"from": "markdown", "to": "html", "route": "pandoc", "warnings": []}


@pytest.mark.parametrize("name", CORPUS_DOCX)
def test_docx_to_markdown_and_back_keeps_headings_and_table_cells(ctx, name):
    markdown = export(ctx, "md", put(ctx, CORPUS / name))
    again = export(ctx, "docx", markdown.document)

    assert sniff(ctx.artifacts.path(markdown.document)) == "text" and markdown.document.name.endswith(".md")
    assert docx_structure(ctx.artifacts.path(again.document)) == docx_structure(CORPUS / name)


def test_headings_become_markdown_headings(ctx):
    markdown = export(ctx, "md", put(ctx, CORPUS / "docx_headings_levels.docx"))

    lines = ctx.artifacts.path(markdown.document).read_text().splitlines()
    assert [line for line in lines if line.startswith("#")] == [
        "# A Test of Headers", "## Second Level", "### Third level", "#### Fourth level", "##### Fifth level",
        "###### Sixth level"]


@pytest.mark.parametrize("to, kind", [("odt", "odt"), ("epub", "epub"), ("txt", "text"), ("docx", "docx")])
def test_other_formats(ctx, to, kind):
    out = export(ctx, to, put(ctx, CORPUS / "docx_tables_athletes.docx"))

    assert sniff(ctx.artifacts.path(out.document)) == kind and out.document.name == f"docx_tables_athletes.{to}"
    if to == "txt":
        assert "Lebron James" in ctx.artifacts.path(out.document).read_text()


def test_a_style_document_gives_its_styles_to_the_result(ctx, tmp_path):
    reference = docx.Document()
    reference.styles["Normal"].font.name = "Courier New"
    reference.save(tmp_path / "estilo.docx")

    out = export(ctx, "docx", text="# Informe\n\nTexto normal.", style_document=put(ctx, tmp_path / "estilo.docx"))

    result = docx.Document(str(ctx.artifacts.path(out.document)))
    assert result.styles["Normal"].font.name == "Courier New"
    assert [p.text for p in result.paragraphs] == ["Informe", "Texto normal."]


def test_pandoc_cannot_read_files_off_the_server(ctx):
    # Without pandoc's sandbox this line copies /etc/passwd into the DOCX as a "picture".
    out = export(ctx, "docx", text="![x](/etc/passwd)\n\n![y](../../../../etc/hostname)\n")

    with zipfile.ZipFile(ctx.artifacts.path(out.document)) as archive:
        assert not [n for n in archive.namelist() if n.startswith("word/media/")]
    assert any("/etc/passwd" in w for w in out.info["warnings"])


def test_file_name_from_a_template_is_sanitised(ctx):
    out = export(ctx, "md", text="Hola", file_name="contrato-{{ client }}-{{ input_name }}",
                 data={"client": "ACME <Corp>/Sons"})

    assert out.document.name == "contrato-ACME -Corp-Sons-document.md"


# --- PDF ----------------------------------------------------------------------------------------------------


def test_pdf_from_markdown_by_the_python_route(ctx, without_libreoffice):
    out = export(ctx, "pdf", put(ctx, CORPUS / "md_whisper_readme.md"))

    text = pdf_text(ctx, out.document)
    assert "Whisper is a general-purpose speech recognition model." in text
    for heading in ("Approach", "Setup", "Available models and languages", "Command-line usage", "License"):
        assert heading in text
    assert out.info["route"] == "pandoc+pymupdf" and out.info["pages"] >= 2
    assert out.document.name == "md_whisper_readme.pdf" and out.document.media_type == "application/pdf"


def test_pdf_from_docx_by_the_python_route_keeps_the_table(ctx, without_libreoffice):
    out = export(ctx, "pdf", put(ctx, CORPUS / "docx_tables_athletes.docx"), page_size="Letter")

    text = pdf_text(ctx, out.document)
    for cell in ("Name", "Lebron James", "Basketball", "Leaving Cleveland", "Russell Wilson", "Multiparagraph"):
        assert cell in text
    assert out.info == {"from": "docx", "to": "pdf", "pages": 1, "route": "pandoc+pymupdf", "warnings": []}
    with pymupdf.open(ctx.artifacts.path(out.document)) as document:
        assert document[0].rect == pymupdf.paper_rect("letter")


def test_pdf_from_a_markdown_text_keeps_special_characters_and_pictures_of_a_docx(ctx, without_libreoffice, tmp_path):
    out = export(ctx, "pdf", text=f"# Informe\n\nEl cliente **{ACME}** firmó el contrato.\n")
    assert f"Informe El cliente {ACME} firmó el contrato." in pdf_text(ctx, out.document)

    with_picture = docx.Document()
    with_picture.add_paragraph("Antes de la foto.")
    with_picture.add_picture(str(CORPUS / "photo_coffee_spoon.png"))
    with_picture.add_paragraph("Después de la foto.")
    with_picture.save(tmp_path / "foto.docx")
    out = export(ctx, "pdf", put(ctx, tmp_path / "foto.docx"))
    with pymupdf.open(ctx.artifacts.path(out.document)) as document:
        assert sum(len(page.get_images()) for page in document) == 1
    assert "Después de la foto." in pdf_text(ctx, out.document)


def test_pdf_from_html_keeps_its_tables(ctx, without_libreoffice):
    out = export(ctx, "pdf", put(ctx, CORPUS / "md_pandoc_tables.expected.html"))

    assert out.info["route"] == "pymupdf"
    assert "Demonstration of simple table syntax." in pdf_text(ctx, out.document)


def test_html_cannot_pull_pictures_off_the_server(ctx, without_libreoffice):
    picture = CORPUS / "photo_coffee_spoon.png"
    page = f'<p>Hola<img src="{picture}"/><img src="../../../../..{picture}"/><img src="file://{picture}"/></p>'

    out = export(ctx, "pdf", put(ctx, page.encode(), "pagina.html"))

    with pymupdf.open(ctx.artifacts.path(out.document)) as document:
        assert document[0].get_images() == []


FAKE_SOFFICE = """#!{python} -S
import pathlib, shutil, sys
args = sys.argv[1:]
outdir, source = pathlib.Path(args[args.index("--outdir") + 1]), pathlib.Path(args[-1])
outdir.mkdir(parents=True, exist_ok=True)
here = pathlib.Path(__file__).parent
shutil.copyfile(here / "made.pdf", outdir / (source.stem + ".pdf"))
(here / "calls.txt").write_text(" ".join(args))
"""


@pytest.fixture
def fake_libreoffice(tmp_path, monkeypatch) -> Path:
    """A stand-in `soffice` on PATH that behaves like `soffice --convert-to pdf` and records its arguments."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "soffice"
    script.write_text(FAKE_SOFFICE.format(python=sys.executable))
    script.chmod(0o755)
    made = pymupdf.open()
    made.new_page().insert_text((72, 72), "made by LibreOffice")
    made.save(folder / "made.pdf")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder / "calls.txt"


def test_docx_goes_to_libreoffice_when_it_is_installed(ctx, fake_libreoffice):
    out = export(ctx, "pdf", put(ctx, CORPUS / "docx_tables_athletes.docx"))

    assert out.info["route"] == "libreoffice" and out.info["pages"] == 1
    assert "made by LibreOffice" in pdf_text(ctx, out.document)
    calls = fake_libreoffice.read_text()
    assert calls.endswith("/document.docx") and "--headless" in calls and "--convert-to pdf" in calls
    assert "-env:UserInstallation=file://" in calls  # a profile of its own, so conversions do not block each other


def test_markdown_goes_through_word_to_libreoffice_when_asked(ctx, fake_libreoffice):
    auto = export(ctx, "pdf", text="# Hola")
    forced = export(ctx, "pdf", text="# Hola", pdf_engine="libreoffice")

    assert auto.info["route"] == "pandoc+pymupdf"  # auto keeps Markdown on the Python route
    assert forced.info["route"] == "pandoc+libreoffice"


def test_asking_for_libreoffice_where_there_is_none(ctx, without_libreoffice):
    with pytest.raises(NodeError) as caught:
        export(ctx, "pdf", put(ctx, CORPUS / "docx_tables_athletes.docx"), pdf_engine="libreoffice")

    assert caught.value.code == "libreoffice_missing"
    assert "set 'PDF engine' to 'auto' or 'python'" in caught.value.message


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")),
                    reason="LibreOffice is optional and not installed here; the fake above covers the plumbing")
def test_docx_to_pdf_with_the_real_libreoffice(ctx):
    out = export(ctx, "pdf", put(ctx, CORPUS / "docx_header_footer_sections.docx"), pdf_engine="libreoffice")

    assert out.info["route"] == "libreoffice"
    assert "Header for section-1" in pdf_text(ctx, out.document)  # headers survive only on this route


# --- merging ----------------------------------------------------------------------------------------------------


def test_merge_pdfs_pictures_and_documents_in_order(ctx, without_libreoffice):
    config = MergeConfig(parts=2, file_name="expediente-{{ 'completo' }}")
    inputs = MergeIn(document_1=put(ctx, CORPUS / "pdf_lorem_two_column.pdf").model_dump(),
                     document_2=put(ctx, CORPUS / "pdf_scotus_transcript_p1.pdf").model_dump(),
                     documents=[put(ctx, CORPUS / "scan_phototest.tif"),
                                put(ctx, CORPUS / "docx_tables_athletes.docx")])

    out = MergePdf().run(ctx, config, inputs)

    assert out.info["pages"] == 6 and [p["pages"] for p in out.info["parts"]] == [3, 1, 1, 1]
    assert [p["route"] for p in out.info["parts"]] == ["copy", "copy", "picture", "pandoc+pymupdf"]
    assert out.document.name == "expediente-completo.pdf"
    with pymupdf.open(ctx.artifacts.path(out.document)) as merged:
        assert merged.page_count == 6
        assert "SUPREME COURT" in merged[3].get_text()
        assert "Lebron James" in words(merged[5].get_text())


def encrypted_pdf() -> bytes:
    pdf = pymupdf.open()
    pdf.new_page().insert_text((72, 72), "secreto")
    return pdf.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="clave", owner_pw="dueño")


@pytest.mark.parametrize("content, says", [
    (encrypted_pdf(), "'b.pdf' is protected by a password"),
    (b"%PDF-1.7\n" + b"\x00garbage" * 100, "'b.pdf' is a damaged PDF"),
])
def test_merge_refuses_locked_or_damaged_pdfs_by_name(ctx, content, says):
    inputs = MergeIn(document_1=put(ctx, CORPUS / "pdf_form_libreoffice.pdf", "a.pdf").model_dump(),
                     document_2=put(ctx, content, "b.pdf").model_dump())

    with pytest.raises(NodeInputError, match=says):
        MergePdf().run(ctx, MergeConfig(), inputs)


def test_merge_needs_something(ctx):
    with pytest.raises(NodeInputError, match="There is nothing to merge"):
        MergePdf().run(ctx, MergeConfig(parts=0), MergeIn())


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, name, says", [
    (b"", "vacio.docx", "The file is empty (0 bytes)"),
    (b"PK\x03\x04" + b"\x00garbage" * 50, "roto.docx", "This file is a damaged ZIP-based file"),
    ((CORPUS / "audio_one_two_three_en.wav").read_bytes(), "informe.docx",
     "This file is a WAV file, but Export document accepts DOCX, EPUB, HTML, ODT"),
    (zip_bomb(), "bomba.docx", "that looks like a zip bomb, so it was not opened"),
])
def test_bad_documents_are_refused_clearly(ctx, content, name, says):
    with pytest.raises(NodeInputError) as caught:
        export(ctx, "pdf", put(ctx, content, name))

    assert says in caught.value.message and caught.value.port == "document"


def test_a_docx_pandoc_cannot_read_is_a_clear_error(ctx):
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("word/document.xml", "this is not XML")

    with pytest.raises(NodeInputError, match="The document could not be converted: "):
        export(ctx, "md", put(ctx, broken.getvalue(), "roto.docx"))


@pytest.mark.parametrize("document, text, says", [
    (None, None, "There is nothing to convert"),
    (None, "  \n", "The text is empty"),
    ("doc", "# Hola", "Connect either a document or a text, not both"),
])
def test_the_inputs_must_say_what_to_convert(ctx, document, text, says):
    ref = put(ctx, b"# Hola", "hola.md") if document else None

    with pytest.raises(NodeInputError, match=says):
        export(ctx, "pdf", ref, text=text)


def test_a_pdf_cannot_become_word_here(ctx):
    with pytest.raises(NodeInputError, match="A PDF cannot be converted to DOCX here"):
        export(ctx, "docx", put(ctx, CORPUS / "pdf_form_libreoffice.pdf"))


def test_a_style_document_must_be_word(ctx):
    with pytest.raises(NodeInputError) as caught:
        export(ctx, "docx", text="Hola", style_document=put(ctx, CORPUS / "pdf_form_libreoffice.pdf"))

    assert caught.value.port == "style_document" and "This file is a PDF file" in caught.value.message


# --- through the runtime: client data → filled contract → PDF ------------------------------------------------


def test_contract_from_client_data_through_the_runtime(services, without_libreoffice):
    # Given a graph: client data and a Word template → Fill template → Export to PDF → Output
    with open(CORPUS / "tpl_order_letter.docx", "rb") as f:  # uploaded as the run form does
        template = services.runs.upload(f, name="pedido.docx")
    nodes = [node("client", "io.input", name="client", kind="json"),
             node("template", "io.input", name="template", kind="document"),
             node("fill", "doc.fill_template"),
             node("pdf", "doc.export", to="pdf", file_name="pedido-{{ customer_name }}")]
    out_pdf, e_pdf = output("out_pdf", "contract", "pdf", "document")
    out_info, e_info = output("out_info", "how", "pdf", "info")
    edges = [edge("client", "fill", "value", "data"), edge("template", "fill", "value", "template"),
             edge("fill", "pdf", "document", "document"), edge("client", "pdf", "value", "data"), e_pdf, e_info]
    spec = graph(nodes + [out_pdf, out_info], edges, name="contract_from_client_data")
    assert services.graphs.validate(spec) == []

    # When it runs
    version = services.graphs.save(spec)
    run = services.runs.wait(services.runs.start(version.id, {"client": ORDER, "template": template.model_dump()}),
                             timeout_s=60)

    # Then the PDF holds the filled letter, named after the client
    assert run.state == "succeeded", [(n.node_id, n.error_message) for n in run.nodes]
    contract = FileRef.model_validate(run.outputs["contract"])
    assert contract.name == "pedido-ACME -Corp- & Sons.pdf"
    assert run.outputs["how"]["route"] == "pandoc+pymupdf"
    ctx = NodeContext(run_id=run.id, node_id="check", artifacts=services.artifacts)
    text = pdf_text(ctx, contract)
    assert f"Dear {ACME}," in text and "Bolígrafo azul" in text and "Please, pay your order : 150.00 Euros." in text
