"""Every graph in sample_graphs/ is validated and run, on the real documents of ../shared/corpus."""

from __future__ import annotations

import csv
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from docx import Document

from app.services import Services
from tests.conftest import CORPUS, SAMPLES, make_settings
from tests.fake_llm import FakeLLM


def upload(services: Services, path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return services.runs.upload(f, name=path.name).model_dump()


def run_sample(services: Services, name: str, inputs: dict[str, Any]):
    version = services.graphs.save((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    assert services.graphs.validate(version.spec) == []
    run = services.runs.wait(services.runs.start(version.id, inputs), timeout_s=300)
    assert run.state == "succeeded", [(n.node_id, n.state, n.error_message) for n in run.nodes]
    return run


def pdf_text(services: Services, ref: dict[str, Any]) -> str:
    """The PDF's text with whitespace normalised (table cells wrap lines)."""
    with pymupdf.open(services.artifacts.path(ref["artifact"])) as pdf:
        return " ".join(" ".join(page.get_text() for page in pdf).split())


@pytest.fixture(scope="module")
def fake_llm():
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """No language model configured: the nodes take their offline paths."""
    with Services(make_settings(tmp_path_factory.mktemp("samples"))) as svc:
        yield svc


@pytest.fixture(scope="module")
def llm_services(tmp_path_factory, fake_llm):
    settings = make_settings(tmp_path_factory.mktemp("samples-llm"),
                             llm={"base_url": fake_llm.url, "api_key": "sk-test", "model": "test-model"})
    with Services(settings) as svc:
        yield svc


def test_there_are_sample_graphs_for_each_use_case():
    names = {p.stem for p in SAMPLES.glob("*.json")}
    assert names == {"welcome_letter", "booking_summary", "contract_from_client_data", "summarise_report",
                     "scan_to_fields", "document_to_social_posts", "tourist_photo_cleanup", "meeting_minutes",
                     "mass_contracts"}


def test_welcome_letter(services):
    run = run_sample(services, "welcome_letter", {"client_name": "Lucía Pérez"})
    assert run.outputs["letter"].startswith("Estimado/a Lucía Pérez:")


def test_booking_summary(services):
    run = run_sample(services, "booking_summary", {})
    assert run.outputs["guest"] == "Ana García"


def test_contract_from_client_data(services):
    inputs = {"template": upload(services, CORPUS / "tpl_order_letter.docx"), "customer_name": "ACME <Corp> & Sons",
              "items": [{"desc": "Contrato de arrendamiento", "qty": 2, "price": 150}], "total_price": 300,
              "is_paid": True}
    run = run_sample(services, "contract_from_client_data", inputs)

    docx_text = "\n".join(p.text for p in Document(services.artifacts.path(run.outputs["contract_docx"]["artifact"]))
                          .paragraphs)
    assert "Dear ACME <Corp> & Sons," in docx_text and "{{" not in docx_text and "{%" not in docx_text
    text = pdf_text(services, run.outputs["contract_pdf"])
    assert "ACME <Corp> & Sons" in text and "Contrato de arrendamiento" in text
    assert run.outputs["contract_pdf"]["name"].endswith(".pdf")


def test_summarise_report(services):
    run = run_sample(services, "summarise_report", {"report": upload(services, CORPUS / "pdf_scotus_transcript_p1.pdf")})

    summary = run.outputs["summary"]
    source = pdf_text(services, upload(services, CORPUS / "pdf_scotus_transcript_p1.pdf"))
    first_sentence = summary.lstrip("-• ").split("\n")[0][:40]
    assert first_sentence and " ".join(first_sentence.split()) in " ".join(source.split())  # extractive
    words = Document(services.artifacts.path(run.outputs["summary_docx"]["artifact"])).paragraphs
    assert any("Summary" in p.text for p in words)


def test_scan_to_fields(services):
    run = run_sample(services, "scan_to_fields", {"scan": upload(services, CORPUS / "scan_photographed_page.png")})

    assert run.outputs["fields"] == {"title": "Region-based segmentation", "topic": "coins"}
    assert "Region-based segmentation" in pdf_text(services, run.outputs["form_pdf"])


def test_document_to_social_posts(llm_services, fake_llm):
    fake_llm.reply = lambda body: "1. Post uno\n2. Post dos\n3. Post tres"
    run = run_sample(llm_services, "document_to_social_posts",
                     {"document": upload(llm_services, CORPUS / "md_whisper_readme.md"), "tone": "divertido"})

    assert run.outputs["posts"].startswith("1. Post uno")
    prompt = fake_llm.requests[-1]["body"]["messages"][-1]["content"]
    assert "divertido" in prompt and "Whisper" in prompt


def test_tourist_photo_cleanup(services):
    from PIL import Image

    inputs = {"photo": upload(services, CORPUS / "photo_dog_bench.png"),
              "mask": upload(services, CORPUS / "photo_dog_bench_mask.png")}
    run = run_sample(services, "tourist_photo_cleanup", inputs)

    out = run.outputs["photo_web"]
    assert out["media_type"] == "image/jpeg"
    with Image.open(services.artifacts.path(out["artifact"])) as image:
        assert image.size == (512, 512) and image.format == "JPEG"


def test_meeting_minutes(services, tmp_path):
    wav = tmp_path / "meeting.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Good morning everyone. We agreed to move the launch to March. "
                    "Maria will send the budget on Friday."], check=True)
    template = tmp_path / "minutes.docx"
    doc = Document()
    doc.add_heading("{{ title }}", 1)
    doc.add_paragraph("{{ summary }}")
    doc.add_paragraph("{{ transcript }}")
    doc.save(template)

    run = run_sample(services, "meeting_minutes", {"recording": upload(services, wav),
                                                   "template": upload(services, template), "title": "Acta"})

    text = pdf_text(services, run.outputs["minutes_pdf"]).lower()
    assert "acta" in text and "march" in text and "budget" in text
    assert "-->" in services.artifacts.read_bytes(run.outputs["subtitles"]["artifact"]).decode()


CLIENTS = [
    {"nombre": "Lucía Pérez Gómez", "nif": "12345678Z", "direccion": "Calle Mayor 1, Madrid",
     "servicio": "asesoría laboral", "importe": 1200, "fecha": "2026-01-15"},
    {"nombre": "ACME <Corp> & Sons", "nif": "B87654321", "direccion": "Avda. Diagonal 640, Barcelona",
     "servicio": "auditoría de cuentas", "importe": 3500, "fecha": "2026-02-01"},
    {"nombre": "Jürgen Müller", "nif": "X1234567L", "direccion": "Plaza Nueva 3, Sevilla",
     "servicio": "traducción jurada", "importe": 450, "fecha": "2026-03-10"},
    {"nombre": "Lucía Pérez Gómez", "nif": "00000001R", "direccion": "Rúa do Franco 7, Santiago",
     "servicio": "mediación", "importe": 800, "fecha": "2026-04-22"},  # same name again: the ZIP numbers it
]


def test_mass_contracts(services, tmp_path):
    # Given: a semicolon-separated CSV as Spanish Excel saves it (UTF-8 with BOM), and the shipped template
    clients = tmp_path / "clientes.csv"
    with clients.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(CLIENTS[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(CLIENTS)
    inputs = {"clients": upload(services, clients),
              "template": upload(services, SAMPLES / "mass_contracts_template.docx"), "empresa": "Bufete Ruiz S.L.P."}

    run = run_sample(services, "mass_contracts", inputs)

    # Then: one PDF per row, in the order of the rows, each naming its own client and its own data
    assert run.outputs["count"] == len(CLIENTS) and run.outputs["errors"] == []
    archive = run.outputs["contracts_zip"]
    assert archive["name"] == "contratos.zip" and archive["media_type"] == "application/zip"
    with zipfile.ZipFile(services.artifacts.path(archive["artifact"])) as zf:
        names = zf.namelist()
        assert names == ["contrato-Lucía Pérez Gómez.pdf", "contrato-ACME -Corp- & Sons.pdf",
                         "contrato-Jürgen Müller.pdf", "contrato-Lucía Pérez Gómez (2).pdf"]
        for name, client in zip(names, CLIENTS, strict=True):
            text = pdf_text_of(zf.read(name))
            assert client["nombre"] in text and client["nif"] in text and client["servicio"] in text, text
            assert f"{client['importe']} euros" in text and "Bufete Ruiz S.L.P." in text
            assert "{{" not in text and "CONTRATO DE PRESTACIÓN DE SERVICIOS" in text
    items = [n for n in run.nodes if n.node_id.startswith(("fill[", "pdf["))]
    assert len(items) == 2 * len(CLIENTS) and all(n.state == "succeeded" for n in items)


def test_mass_contracts_reads_excel_and_leaves_out_a_row_that_fails(services, tmp_path):
    from openpyxl import Workbook

    # Given: an Excel sheet whose second client has no amount, which the template multiplies for the VAT
    book = Workbook()
    sheet = book.active
    sheet.append(list(CLIENTS[0]))
    for client in CLIENTS[:3]:
        sheet.append([None if key == "importe" and client is CLIENTS[1] else value for key, value in client.items()])
    book.save(tmp_path / "clientes.xlsx")
    inputs = {"clients": upload(services, tmp_path / "clientes.xlsx"),
              "template": upload(services, SAMPLES / "mass_contracts_template.docx")}

    run = run_sample(services, "mass_contracts", inputs)

    # Then: the other rows become contracts (the company name is the default), the bad row is reported
    assert run.outputs["count"] == 2
    [error] = run.outputs["errors"]
    assert error["item"] == 1 and error["node"] == "fill" and "could not be filled" in error["error"], error
    with zipfile.ZipFile(services.artifacts.path(run.outputs["contracts_zip"]["artifact"])) as zf:
        texts = [pdf_text_of(zf.read(name)) for name in zf.namelist()]
    assert len(texts) == 2 and CLIENTS[0]["nombre"] in texts[0] and CLIENTS[2]["nombre"] in texts[1]
    assert "1452,00 euros" in texts[0] and "544,50 euros" in texts[1] and "MindDocs S.L." in texts[0]


def pdf_text_of(data: bytes) -> str:
    with pymupdf.open(stream=data, filetype="pdf") as pdf:
        return " ".join(" ".join(page.get_text() for page in pdf).split())
