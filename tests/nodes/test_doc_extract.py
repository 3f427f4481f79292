"""doc.extract on the real corpus (ground truth from ../shared/corpus/MANIFEST.tsv), bad input, and a run."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from app.services import Services
from nodes.base import NodeContext, NodeError, NodeInputError
from nodes.doc_extract import DocExtract, ExtractConfig, ExtractIn, ExtractOut
from nodes.files import Limits
from tests.conftest import CORPUS, make_settings
from tests.graphs import edge, graph, node, output

FEDREG_FIRST = ("This section of the FEDERAL REGISTER contains notices to the public of the proposed "
                "issuance of rules and regulations.")
FEDREG_SUMMARY = ("The FAA proposes to supersede Airworthiness Directive (AD) 2018–23–51, which applies to all "
                  "The Boeing Company Model 737–8 and 737–9 (737 MAX) airplanes.")
WIKI_FIRST = ("Optical character recognition (optical character reader, OCR) is the mechanical or electronic "
              "conversion of images of typed, handwritten or printed text into machine-encoded text, whether "
              "from a scanned document, a photo of a document, a scene-photo (for example the text on signs and "
              "billboards in a landscape photo) or from subtitle text superimposed on an image (for example "
              "from a television broadcast).[1]")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Services]:
    # One artifact store for the module, not started: these tests run the node themselves.
    svc = Services(make_settings(tmp_path_factory.mktemp("data")))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def models() -> dict:
    return {}  # the worker's model cache: each OCR engine loads once for the whole module


@pytest.fixture(scope="module")
def extract(store, models):
    def run(source: str | Path | bytes, *, name: str | None = None, limits: Limits | None = None,
            **config) -> ExtractOut:
        if isinstance(source, bytes):
            ref = store.artifacts.put_bytes(source, name=name or "upload.bin")
        else:
            path = source if isinstance(source, Path) else CORPUS / source
            ref = store.artifacts.put_file(path, name=name or path.name)
        ctx = NodeContext(run_id="r", node_id="n", artifacts=store.artifacts, models=models,
                          limits=limits or Limits())
        return DocExtract().run(ctx, ExtractConfig(**config), ExtractIn(document=ref))

    return run


@pytest.fixture(scope="module")
def fedreg(extract) -> ExtractOut:
    return extract("pdf_fedreg_boeing737max_3col.pdf")


@pytest.fixture(scope="module")
def lorem(extract) -> ExtractOut:
    return extract("pdf_lorem_two_column.pdf")


def flat(text: str) -> str:
    return " ".join(text.split())


def cer(got: str, expected: str) -> float:
    """Character error rate: Levenshtein distance over the length of the expected text."""
    previous = list(range(len(expected) + 1))
    for i, a in enumerate(got, 1):
        current = [i]
        for j, b in enumerate(expected, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / len(expected)


def in_order(text: str, *parts: str) -> bool:
    positions = [text.find(part) for part in parts]
    return -1 not in positions and positions == sorted(positions)


# --- born-digital PDFs ------------------------------------------------------------------------------------


def test_federal_register_first_sentences_come_out_exactly(fedreg):
    text = flat(fedreg.text)

    assert FEDREG_FIRST in text
    assert "SUMMARY: " + FEDREG_SUMMARY in text
    assert len(fedreg.pages) == 15 and fedreg.metadata["page_count"] == 15
    assert fedreg.metadata["kind"] == "pdf" and fedreg.metadata["ocr_pages"] == []


def test_federal_register_reads_three_columns_one_after_another(fedreg):
    page1 = flat(fedreg.pages[0])

    # Column 1 runs into column 2, and column 2 into column 3, mid-sentence, with nothing in between
    assert ("by any of the following methods: • Federal eRulemaking Portal: Go to "
            "https://www.regulations.gov.") in page1
    assert ("The most helpful comments reference a specific portion of the proposal, explain the reason for "
            "any recommended change, and include supporting data.") in page1
    assert in_order(page1, FEDREG_FIRST, "SUMMARY:", "ADDRESSES:", "Federal eRulemaking Portal",
                    "Comments Invited", "Confidential Business Information (CBI)", "Background")
    # the vertical margin stamp is kept, after the page's text
    assert page1.endswith("jbell on DSKJLSW7X2PROD with PROPOSALS")


def test_federal_register_headings_in_markdown(fedreg):
    headings = [line for line in fedreg.markdown.splitlines() if line.startswith("#")]

    assert "# Proposed Rules" in headings
    assert any(h.endswith(" DEPARTMENT OF TRANSPORTATION") for h in headings)
    assert any(h.endswith(" Costs of Compliance") for h in headings)


def test_latex_two_columns_do_not_interleave(lorem):
    text = flat(lorem.text)

    # pdftotext puts "pellentesque ante. Phasellus ..." (the top of column 2) between these two
    assert "Abstract This is a sample document with two columns filled with Lorem Ipsum text." in text
    assert "Lorem ipsum dolor sit amet, consectetuer adipiscing elit." in text
    # the end of column 1 runs into the top of column 2
    assert ("Vivamus viverra fermentum felis. Donec nonummy pellentesque ante. Phasellus adipiscing "
            "semper elit.") in text
    assert lorem.markdown.startswith("# Two-Column Document with Lorem Ipsum")
    assert "## Abstract" in lorem.markdown.splitlines()
    assert lorem.metadata["producer"].startswith("pdfTeX")
    assert lorem.metadata["created"] == "2024-01-03T09:38:26+01:00"


def test_nics_table_known_cells(extract):
    out = extract("pdf_nics_firearm_checks_table.pdf")

    [table] = out.tables
    rows = {cells[0]: cells for cells in ([c for c in row if c] for row in table["rows"]) if cells}
    assert rows["Alabama"][1:3] == ["18,870", "23,022"] and rows["Alabama"][-1] == "71,137"
    assert rows["Alaska"][-1] == "7,095"
    assert rows["Arizona"][-1] == "27,087"
    assert rows["California"][1] == "98 452" and rows["California"][-1] == "180 116"  # spaces as separators
    assert sum(name in rows for name in ("Wyoming", "Guam", "Puerto Rico", "District of Columbia")) == 4
    assert "| 18,870 | 23,022 |" in table["markdown"] and "| 18,870 | 23,022 |" in out.markdown
    assert table["page"] == 1


def test_spanish_pdf_with_table(extract):
    out = extract("pdf_argentina_votacion_es.pdf")

    text = flat(out.text)
    for known in ("Votación Nominal", "Expediente 8311-D-12 - Votación.", "Miembros del cuerpo: 257",
                  "Resultado de la Votación: AFIRMATIVO", "DOMINGUEZ, Julián Andrés"):
        assert known in text
    rows = out.tables[0]["rows"]
    assert ["ABDALA de MATARAZZO, Norma Amanda", "Frente Cívico por Santiago", "Santiago del Estero",
            "AFIRMATIVO"] in rows


def test_transcript_and_report_read_row_by_row(extract):
    transcript = extract("pdf_scotus_transcript_p1.pdf")
    # the ground truth is pdfplumber's layout text: the same words in the same order, line numbers included
    expected = (CORPUS / "pdf_scotus_transcript_p1.gt.txt").read_text().split()
    got = transcript.text.split()
    assert " ".join(got[:12]) == "Official - Subject to Final Review 1 IN THE SUPREME COURT OF"
    assert sorted(got) == sorted(expected)

    report = flat(extract("pdf_la_precinct_bulletin_table.pdf").text)
    assert report.startswith("Precinct RUN 12/3/2014 11:57:01 AM")
    for known in ("327 BALLOTS CAST", "1100 REGISTERED VOTERS", "NEEL KASHKARI", "EDMUND G BROWN",
                  "STATE MEASURE 48"):
        assert known in report


def test_acroform_values(extract):
    out = extract("pdf_form_libreoffice.pdf")

    assert out.fields == {"First Name": "Alice", "Last Name": "", "Birthday": "", "female": None,
                          "gdpr": False, "other": False, "First Name_2": "Bob", "Nationality": ""}
    assert "Example for a Form" in out.text
    assert out.metadata["producer"] == "LibreOffice 6.4"


def test_page_selection(extract):
    out = extract("pdf_fedreg_boeing737max_3col.pdf", pages="2, 14-15", tables=False)

    assert len(out.pages) == 3 and out.metadata["pages_read"] == [2, 14, 15]
    assert FEDREG_FIRST not in flat(out.text) and "Hatta International Airport" in out.pages[0]


# --- OCR ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["rapidocr", "tesseract"])
def test_ocr_of_a_tiff_scan_within_2_percent(extract, engine):
    out = extract("scan_phototest.tif", ocr_engine=engine)

    expected = flat((CORPUS / "scan_phototest.gt.txt").read_text())
    assert cer(flat(out.text), expected) <= 0.02
    assert out.metadata["kind"] == "tiff" and out.metadata["ocr_engine"] == engine


def test_scanned_pdf_page_is_read_with_ocr(extract):
    out = extract("scan_wikipedia_ocr_page.pdf")

    text = flat(out.text)
    start = text.find("Optical character recognition (")
    assert start >= 0
    assert cer(text[start:start + len(WIKI_FIRST)], WIKI_FIRST) <= 0.05
    assert out.metadata["ocr_pages"] == [1] and out.metadata["ocr_engine"] == "rapidocr"


def test_ocr_never_leaves_a_scan_empty_and_says_so(extract):
    out = extract("scan_wikipedia_ocr_page.pdf", ocr="never")

    assert out.text == "" and out.metadata["ocr_pages"] == []
    assert "no text layer" in out.metadata["warnings"][0]


def test_unevenly_lit_photo_named_pdf_is_read_as_a_picture(extract):
    # A PNG uploaded as .pdf: the content decides, and the lighting is evened out before OCR
    out = extract("scan_photographed_page.png", name="report.pdf")

    assert out.metadata["kind"] == "png"
    assert ("Let us first determine markers of the coins and the background. These markers are pixels that "
            "we can label unambiguously as either object or background.") in flat(out.text)


def test_tesseract_reads_spanish_with_its_language_pack(extract, tmp_path):
    # Given a picture of ten rows of the Spanish voting record (rendered from the born-digital PDF)
    with pymupdf.open(CORPUS / "pdf_argentina_votacion_es.pdf") as doc:
        pix = doc[0].get_pixmap(dpi=300, clip=pymupdf.Rect(20, 272, 560, 440))
    picture = tmp_path / "votacion.png"
    pix.save(picture)

    spanish = extract(picture, ocr_engine="tesseract", ocr_languages="spa+eng").text
    english = extract(picture, ocr_engine="tesseract", ocr_languages="eng").text

    for name in ("ALONSO, María Luz", "BARRANDEGUY, Raúl Enrique", "Frente Cívico por Santiago",
                 "ARREGUI, Andrés Roberto"):
        assert name in spanish
    assert "Frente Civico por Santiago" in english  # without the Spanish pack the accents are lost


def test_multi_page_tiff_reads_the_pages_asked_for(extract, tmp_path):
    # Given a two-page TIFF: a blank page, then the test scan
    from PIL import Image

    scan = Image.open(CORPUS / "scan_phototest.tif")
    two_pages = tmp_path / "two-pages.tiff"
    Image.new("1", scan.size, 1).save(two_pages, save_all=True, append_images=[scan])

    out = extract(two_pages, pages="2", ocr_engine="tesseract")

    assert out.metadata["frames"] == 2 and out.metadata["pages_read"] == [2] and len(out.pages) == 1
    assert cer(flat(out.text), flat((CORPUS / "scan_phototest.gt.txt").read_text())) <= 0.02


def test_missing_tesseract_language_names_the_package(extract):
    with pytest.raises(NodeError) as caught:
        extract("scan_phototest.tif", ocr_engine="tesseract", ocr_languages="xyz")

    assert "tesseract-ocr-xyz" in caught.value.message


def test_a_picture_with_ocr_off_is_a_clear_error(extract):
    with pytest.raises(NodeError) as caught:
        extract("scan_phototest.tif", ocr="never")

    assert "OCR" in caught.value.message and "picture" in caught.value.message


# --- DOCX, HTML, Markdown, text ---------------------------------------------------------------------------


def test_docx_heading_levels(extract):
    out = extract("docx_headings_levels.docx")

    assert [line for line in out.markdown.splitlines() if line.startswith("#")] == [
        "# A Test of Headers", "## Second Level", "### Third level", "#### Fourth level", "##### Fifth level",
        "###### Sixth level"]
    assert "\n\nSeventh level\n\n" in out.markdown  # no Heading 7 style: body text, as pandoc reads it
    assert out.text.startswith("A Test of Headers\n\nSecond Level\n\nSome plain text.")
    assert out.pages == [out.text] and out.metadata["author"] == "Jesse Rosenthal"


def test_docx_tables(extract):
    out = extract("docx_tables_athletes.docx")

    assert [t["rows"] for t in out.tables] == [
        [["Name", "Game", "Fame", "Blame"], ["Lebron James", "Basketball", "Very High", "Leaving Cleveland"],
         ["Ryan Braun", "Baseball", "Moderate", "Steroids"],
         ["Russell Wilson", "Football", "High", "Tacky uniform"]],
        [["Sinple", "Table"], ["Without", "Header"]],
        [["Simple\nMultiparagraph", "Table\nFull"], ["Of\nParagraphs", "In each\nCell."]]]
    assert "| Lebron James | Basketball | Very High | Leaving Cleveland |" in out.markdown
    assert out.markdown.startswith("## A table, with and without a header row")


def test_docx_merged_cells_give_their_text_once(extract):
    out = extract("docx_tables_merged_cells.docx")

    assert [t["rows"] for t in out.tables] == [
        [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]],
        [["1", "2", "3"], ["4", "", "6"], ["7", "8", "9"]],  # "4" spans two columns
        [["1", "2", "3"], ["4", "5", "6"], ["7", "", "9"]],  # "5" spans two rows
        [["1", "2", "3"], ["4", "", "6"], ["", "", "9"]],  # both
    ]


def test_docx_header_and_footer_once_for_linked_sections(extract):
    out = extract("docx_header_footer_sections.docx")

    assert out.text == ("Header for section-1\n\nsection with header\n\nsection without header of its own."
                        "\n\nFooter for section 1")
    assert out.metadata["headers"] == ["Header for section-1"]
    assert out.metadata["footers"] == ["Footer for section 1"]


def test_markdown_gives_plain_text_and_keeps_its_source(extract):
    out = extract("md_whisper_readme.md")

    source = (CORPUS / "md_whisper_readme.md").read_text()
    assert out.markdown == source.strip("\n")
    assert "Whisper is a general-purpose speech recognition model." in out.text
    assert "##" not in out.text and "```" not in out.text
    assert out.tables[0]["rows"][0][:2] == ["Size", "Parameters"] and out.tables[0]["rows"][1][0] == "tiny"
    assert out.metadata["kind"] == "markdown"


def test_html_tables_captions_and_headings(extract):
    out = extract("md_pandoc_tables.expected.html")

    assert out.metadata["kind"] == "html"
    assert len(out.tables) == 7
    assert out.tables[0]["rows"][:2] == [["Right", "Left", "Center", "Default"], ["12", "12", "12", "12"]]
    assert out.text.startswith("Simple table with caption:\n\nDemonstration of simple table syntax.")


def test_html_drops_scripts_and_keeps_structure(extract):
    page = (b"<!doctype html><html lang='es'><head><title>Informe</title><script>alert('x')</script></head>"
            b"<body>"
            b"<h2>Resumen</h2><p>Texto con <a href='https://example.org'>enlace</a>.</p>"
            b"<ul><li>uno</li><li>dos</li></ul></body></html>")

    out = extract(page, name="informe.html")

    assert out.text == "Resumen\n\nTexto con enlace.\n\nuno\n\ndos"
    assert out.markdown == "## Resumen\n\nTexto con [enlace](https://example.org).\n\n- uno\n\n- dos"
    assert out.metadata["title"] == "Informe" and out.metadata["language"] == "es"


def test_plain_text_in_utf8_and_in_latin1(extract):
    assert extract("scan_phototest.gt.txt").text == (CORPUS / "scan_phototest.gt.txt").read_text().strip("\n")
    assert extract("Canción número 1\n".encode("latin-1"), name="notas.txt").text == "Canción número 1"
    assert extract("Línea 1\r\nLínea 2".encode("utf-16"), name="notepad.txt").text == "Línea 1\nLínea 2"


# --- bad input --------------------------------------------------------------------------------------------


def test_encrypted_pdf_asks_for_the_password_and_opens_with_it(store, models, tmp_path):
    # Given the form PDF saved with a user password
    locked = tmp_path / "locked.pdf"
    with pymupdf.open(CORPUS / "pdf_form_libreoffice.pdf") as doc:
        doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="s3cret", owner_pw="owner-s3cret")

    # and the password kept as a stored secret, which the node reads through its context
    secrets = {"pdf_ok": "s3cret", "pdf_wrong": "guess"}
    ref = store.artifacts.put_file(locked, name="locked.pdf")

    def run(**config):
        ctx = NodeContext(run_id="r", node_id="n", artifacts=store.artifacts, models=models, secrets=secrets.get)
        return DocExtract().run(ctx, ExtractConfig(**config), ExtractIn(document=ref))

    with pytest.raises(NodeInputError) as missing:
        run()
    with pytest.raises(NodeInputError) as wrong:
        run(password_secret="pdf_wrong")
    with pytest.raises(NodeError) as unknown:
        run(password_secret="pdf_nowhere")
    out = run(password_secret="pdf_ok")

    assert "protected with a password" in missing.value.message and "'PDF password'" in missing.value.message
    assert "password is wrong" in wrong.value.message and "guess" not in wrong.value.message
    assert unknown.value.code == "secret_missing" and "'pdf_nowhere'" in unknown.value.message
    assert "Example for a Form" in out.text and out.fields["First Name"] == "Alice"
    assert out.metadata["encrypted"] is True


@pytest.mark.parametrize("content", [
    pytest.param((CORPUS / "pdf_fedreg_boeing737max_3col.pdf").read_bytes()[:200_000], id="truncated"),
    pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 40, id="garbage-after-header"),
])
def test_corrupt_pdf_is_a_clear_error(extract, content):
    with pytest.raises(NodeInputError) as caught:
        extract(content, name="broken.pdf")

    assert caught.value.port == "document"
    assert "damaged" in caught.value.message or "cut short" in caught.value.message


def test_empty_file(extract):
    with pytest.raises(NodeInputError) as caught:
        extract(b"", name="empty.pdf")

    assert "empty (0 bytes)" in caught.value.message


def test_random_bytes_named_pdf_are_refused_by_content(extract):
    noise = bytes((i * 7919 + 13) % 256 for i in range(5000))

    with pytest.raises(NodeInputError) as caught:
        extract(noise, name="invoice.pdf")

    assert "not a format MindDocs recognises" in caught.value.message and "PDF" in caught.value.message


def test_old_word_file_is_refused_with_the_formats_it_accepts(extract):
    with pytest.raises(NodeInputError) as caught:
        extract(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000), name="carta.doc")

    assert "OLE" in caught.value.message and "DOCX" in caught.value.message


def test_docx_named_pdf_is_read_as_word(extract):
    out = extract("docx_tables_athletes.docx", name="athletes.pdf")

    assert out.metadata["kind"] == "docx" and len(out.tables) == 3


def test_docx_zip_bomb_is_not_opened(extract):
    # Given a DOCX-shaped zip whose one member unpacks 20 MB of zeros from about 20 kB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b"\0" * 20_000_000 + b"</w:document>")

    with pytest.raises(NodeInputError) as caught:
        extract(buffer.getvalue(), name="bomb.docx")

    assert "zip bomb" in caught.value.message


def test_picture_over_the_pixel_limit(extract):
    with pytest.raises(NodeInputError) as caught:
        extract("scan_phototest.tif", limits=Limits(max_image_pixels=100_000))

    assert "0.1 megapixels" in caught.value.message  # 3 times the limit: refused on the header, undecoded


def test_page_limits(extract):
    with pytest.raises(NodeError) as too_many:
        extract("pdf_fedreg_boeing737max_3col.pdf", limits=Limits(max_pages=3))
    with pytest.raises(NodeError) as beyond:
        extract("pdf_lorem_two_column.pdf", pages="2-5")

    assert "15 pages to read, more than the limit of 3" in too_many.value.message
    assert "has 3 page(s)" in beyond.value.message and "page 4" in beyond.value.message
    within = extract("pdf_fedreg_boeing737max_3col.pdf", pages="1-3", limits=Limits(max_pages=3), tables=False)
    assert len(within.pages) == 3


# --- in a graph -------------------------------------------------------------------------------------------


def extract_graph() -> dict:
    nodes = [node("doc", "io.input", name="doc", kind="file", label="Document"),
             node("extract", "doc.extract")]
    o1, e1 = output("o1", "text", "extract", "text")
    o2, e2 = output("o2", "fields", "extract", "fields")
    return graph(nodes + [o1, o2], [edge("doc", "extract", "value", "document"), e1, e2], name="extract")


def test_runs_in_a_graph_and_a_bad_file_fails_the_run(services):
    version = services.graphs.save(extract_graph())
    form = services.runs.upload((CORPUS / "pdf_form_libreoffice.pdf").open("rb"), name="form.pdf")
    junk = services.runs.upload(io.BytesIO(b"%PDF-1.4\nnot really"), name="junk.pdf")

    good = services.runs.wait(services.runs.start(version.id, {"doc": form.model_dump()}), timeout_s=120)
    bad = services.runs.wait(services.runs.start(version.id, {"doc": junk.model_dump()}), timeout_s=120)

    assert good.state == "succeeded", good.nodes
    assert "Example for a Form" in good.outputs["text"] and good.outputs["fields"]["First Name"] == "Alice"
    assert bad.state == "failed"
    failed = next(n for n in bad.nodes if n.node_id == "extract")
    assert failed.state == "failed" and failed.error_code == "bad_input"
    assert re.search(r"PDF is damaged|no readable pages", failed.error_message)
