"""file.unzip and file.zip with real archives: order, names, media types, filters, and hostile or broken
archives (zip slip, zip bomb, encrypted, damaged, not a ZIP)."""

from __future__ import annotations

import io
import zipfile

import pytest
import pyzipper
from pydantic import ValidationError

from app.services import Services
from nodes.base import NodeContext, NodeInputError
from nodes.file_zip import Unzip, UnzipConfig, UnzipIn, Zip, ZipConfig, ZipIn, unique_names
from nodes.files import Limits
from nodes.ports import FileRef
from tests.conftest import CORPUS
from tests.graphs import edge, graph, node, output

PDF = (CORPUS / "pdf_form_libreoffice.pdf").read_bytes()
PNG = (CORPUS / "photo_dog_bench_mask.png").read_bytes()
DOCX = (CORPUS / "docx_tables_athletes.docx").read_bytes()


@pytest.fixture
def ctx(store: Services) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="zip", artifacts=store.artifacts)


def archive(entries: dict[str, bytes | None], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP with these entries in this order (None = a folder entry); names are written exactly as given."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as target:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            target.writestr(info, data if data is not None else b"")
    return out.getvalue()


def unzip(ctx: NodeContext, content: bytes, name: str = "lote.zip", **config):
    return Unzip().run(ctx, UnzipConfig(**config), UnzipIn(file=ctx.artifacts.put_bytes(content, name=name)))


def contents(ctx: NodeContext, files: list[FileRef]) -> list[tuple[str, str, bytes]]:
    return [(f.name, f.media_type, ctx.artifacts.read_bytes(f)) for f in files]


# --- unzip ------------------------------------------------------------------------------------------------


def test_unzip_gives_every_file_in_natural_order_with_its_real_media_type(ctx):
    # Given a ZIP as macOS and Windows make them: folders, resource forks, hidden and system files, a PDF
    # named .txt, a nested ZIP and numbered scans
    content = archive({
        "lote/": None, "lote/scan 10.png": PNG, "lote/scan 2.png": PNG, "lote/contrato.docx": DOCX,
        "lote/notas.txt": "señal\n".encode(), "lote/datos.csv": b"a,b\n1,2\n", "lote/disfrazado.txt": PDF,
        "lote/anidado.zip": archive({"dentro.txt": b"no se abre"}), "__MACOSX/lote/._scan 2.png": b"\x00\x05",
        "lote/.DS_Store": b"\x00\x00\x00\x01Bud1", "lote/Thumbs.db": b"\xd0\xcf\x11\xe0", ".git/config": b"[core]",
    })

    out = unzip(ctx, content)

    assert contents(ctx, out.files) == [
        ("anidado.zip", "application/zip", archive({"dentro.txt": b"no se abre"})),
        ("contrato.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX),
        ("datos.csv", "text/csv", b"a,b\n1,2\n"),
        ("disfrazado.txt", "application/pdf", PDF),
        ("notas.txt", "text/plain", "señal\n".encode()),
        ("scan 2.png", "image/png", PNG),
        ("scan 10.png", "image/png", PNG),
    ]
    assert out.count == 7


def test_a_pattern_picks_files_by_name_in_any_case(ctx):
    content = archive({"a/Informe.PDF": PDF, "b/foto.png": PNG, "c/nota.txt": b"hola", "d/otro.pdf": PDF})

    assert [f.name for f in unzip(ctx, content, pattern="*.pdf").files] == ["Informe.PDF", "otro.pdf"]
    assert [f.name for f in unzip(ctx, content, pattern="*.png, *.TXT").files] == ["foto.png", "nota.txt"]
    assert [f.name for f in unzip(ctx, content, pattern="a/*").files] == ["Informe.PDF"]  # a folder, too


def test_files_with_the_same_name_in_different_folders_are_numbered(ctx):
    content = archive({"enero/factura.pdf": PDF, "febrero/factura.pdf": PDF, "marzo/FACTURA.pdf": PDF})

    assert [f.name for f in unzip(ctx, content).files] == ["factura.pdf", "factura (2).pdf", "FACTURA (3).pdf"]


def test_zip_slip_names_are_flattened_and_nothing_is_written_outside(ctx, tmp_path, monkeypatch):
    # Given entries that try to climb out of the folder they are unpacked into, from a working folder
    # where a climbing entry would land if it were written by its name
    monkeypatch.chdir(tmp_path)
    content = archive({"../../evil.txt": b"1", "/etc/absolute.txt": b"2", "C:\\Windows\\drive.txt": b"3",
                       "..\\..\\back.txt": b"4", "ok/../../../up.txt": b"5", "C:relative.txt": b"6"})

    out = unzip(ctx, content)

    # (sorted by what is left of each path: back.txt, c:/windows/drive.txt, c:relative.txt, etc/absolute.txt…)
    assert contents(ctx, out.files) == [
        ("back.txt", "text/plain", b"4"), ("drive.txt", "text/plain", b"3"), ("C-relative.txt", "text/plain", b"6"),
        ("absolute.txt", "text/plain", b"2"), ("evil.txt", "text/plain", b"1"), ("up.txt", "text/plain", b"5"),
    ]
    assert list(tmp_path.iterdir()) == []
    assert not any((tmp_path.parent.parent / name).exists() for name in ("evil.txt", "up.txt", "back.txt"))


def test_a_zip_bomb_is_not_unpacked(ctx):
    with pytest.raises(NodeInputError, match="looks like a zip bomb"):
        unzip(ctx, archive({"bomba.txt": b"\x00" * 50_000_000}))


def test_the_total_unpacked_size_has_a_ceiling_even_without_compression(ctx):
    # Given a small ceiling and stored (uncompressed) files, so the ratio check has nothing to say
    ctx.limits = Limits(max_uncompressed_bytes=2500)
    content = archive({"a.bin": b"a" * 1000, "b.bin": b"b" * 1000, "c.bin": b"c" * 1000}, zipfile.ZIP_STORED)

    with pytest.raises(NodeInputError, match="would unpack to 0 MB from 0.0 MB; that looks like a zip bomb"):
        unzip(ctx, content)
    ctx.limits = Limits(max_uncompressed_bytes=3000)
    assert unzip(ctx, content).count == 3


def test_more_files_than_the_limit_are_refused(ctx):
    ctx.limits = Limits(max_archive_files=2)
    content = archive({"1.txt": b"1", "2.txt": b"2", "3.txt": b"3"})

    with pytest.raises(NodeInputError, match="The ZIP holds 3 files, more than the limit of 2; split it"):
        unzip(ctx, content)
    assert unzip(ctx, content, pattern="1.txt, 2.txt").count == 2


def encrypted_zip() -> bytes:
    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as target:
        target.setpassword(b"clave")
        target.writestr("nominas/secreto.pdf", PDF)
    return out.getvalue()


def damaged_entry() -> bytes:
    content = bytearray(archive({"roto.txt": b"hello world, this is the text" * 10}, zipfile.ZIP_STORED))
    start = content.index(b"hello world")
    content[start:start + 5] = b"HELLO"  # the stored CRC no longer matches
    return bytes(content)


@pytest.mark.parametrize("content, name, says", [
    (encrypted_zip(), "cifrado.zip", "The ZIP is protected with a password \\('nominas/secreto.pdf' is encrypted\\)"),
    (PDF, "documentos.zip", "This file is a PDF file, not a ZIP archive; Unzip takes .zip files"),
    (DOCX, "contrato.zip", "This file is a DOCX file, not a ZIP archive"),
    (b"", "vacio.zip", "The file is empty \\(0 bytes\\); upload the ZIP archive again"),
    (b"PK\x03\x04" + b"\x00garbage" * 50, "roto.zip", "The ZIP archive is damaged \\(its list of files"),
    (damaged_entry(), "crc.zip", "'roto.txt' inside the ZIP is damaged .*Bad CRC-32"),
    (b"just some text", "texto.zip", "This file is a TEXT file, not a ZIP archive"),
    (archive({"carpeta/": None, "__MACOSX/._x": b"x", ".hidden": b"h"}), "vacio.zip",
     "The ZIP archive holds no files \\(folders and hidden files are skipped\\)"),
])
def test_bad_archives_get_a_clear_error(ctx, content, name, says):
    with pytest.raises(NodeInputError, match=says) as caught:
        unzip(ctx, content, name)
    assert caught.value.port == "file"


def test_a_pattern_that_matches_nothing_lists_what_there_is(ctx):
    with pytest.raises(NodeInputError, match="No file in the ZIP matches '\\*.pdf'; it holds: foto.png, nota.txt"):
        unzip(ctx, archive({"foto.png": PNG, "nota.txt": b"x"}), pattern="*.pdf")


def test_an_encrypted_entry_left_out_by_the_pattern_does_not_stop_the_rest(ctx):
    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", encryption=pyzipper.WZ_AES) as target:
        target.setpassword(b"clave")
        target.writestr("secreto.txt", b"x")
    with zipfile.ZipFile(out, "a") as target:
        target.writestr("publico.csv", b"a\n1\n")

    assert [f.name for f in unzip(ctx, out.getvalue(), pattern="*.csv").files] == ["publico.csv"]


# --- zip --------------------------------------------------------------------------------------------------


def test_zip_packs_files_with_safe_unique_names_and_unzip_gives_them_back(ctx):
    refs = [ctx.artifacts.put_bytes(PDF, name="contrato.pdf"), ctx.artifacts.put_bytes(b"otra", name="Contrato.PDF"),
            ctx.artifacts.put_bytes(PNG, name="Foto: playa?.png"), ctx.artifacts.put_bytes(b"x", name="contrato.pdf")]

    ref = Zip().run(ctx, ZipConfig(archive_name="lote {{ 2024 }}"), ZipIn(files=refs)).archive

    assert (ref.name, ref.media_type) == ("lote 2024.zip", "application/zip")
    with zipfile.ZipFile(ctx.artifacts.path(ref)) as packed:
        assert packed.namelist() == ["contrato.pdf", "Contrato (2).PDF", "Foto- playa-.png", "contrato (3).pdf"]
        assert [packed.read(n) for n in packed.namelist()] == [PDF, b"otra", PNG, b"x"]
        assert packed.testzip() is None
    back = Unzip().run(ctx, UnzipConfig(pattern="*.pdf"), UnzipIn(file=ref))
    assert contents(ctx, back.files) == [("Contrato (2).PDF", "text/plain", b"otra"),
                                         ("contrato (3).pdf", "text/plain", b"x"),
                                         ("contrato.pdf", "application/pdf", PDF)]


def test_zip_refuses_an_empty_list_too_many_files_and_too_much_data(ctx):
    one = ctx.artifacts.put_bytes(b"12345", name="a.txt")

    with pytest.raises(NodeInputError, match="There are no files to pack; connect a list of files"):
        Zip().run(ctx, ZipConfig(), ZipIn(files=[]))
    ctx.limits = Limits(max_archive_files=2)
    with pytest.raises(NodeInputError, match="There are 3 files, more than the limit of 2 in one ZIP"):
        Zip().run(ctx, ZipConfig(), ZipIn(files=[one] * 3))
    ctx.limits = Limits(max_uncompressed_bytes=9)
    with pytest.raises(NodeInputError, match="The files add up to 0 MB, more than the 0 MB one ZIP may hold"):
        Zip().run(ctx, ZipConfig(), ZipIn(files=[one, one]))
    with pytest.raises(ValidationError, match="the file name template has a mistake"):
        ZipConfig(archive_name="{% if %}")


def test_unique_names_number_repeats_before_the_extension():
    assert unique_names(["a.pdf", "a.pdf", "A.PDF", "b", "b", "a (2).pdf"]) == \
        ["a.pdf", "a (2).pdf", "A (3).PDF", "b", "b (2)", "a (2) (2).pdf"]


def test_unzip_and_zip_are_registered_with_list_ports():
    from nodes.registry import registry

    unzip_type, zip_type = registry.get("file.unzip"), registry.get("file.zip")
    assert [str(p.type) for p in unzip_type.output_ports(UnzipConfig())] == ["List[File]", "Number"]
    assert [str(p.type) for p in zip_type.input_ports(ZipConfig())] == ["List[File]"]


# --- through the runtime: lists of files and of records travel along edges ---------------------------------


def test_unzip_zip_read_and_write_table_through_the_runtime(services):
    # Given a graph: a ZIP → Unzip (*.csv) → Zip, and a CSV → Read table → Write table (CSV)
    table = services.runs.upload(io.BytesIO("nombre;importe\nJosé;12,50\nAna;3\n".encode("cp1252")), name="t.csv")
    bundle = services.runs.upload(io.BytesIO(archive({"a/t.csv": b"x,y\n1,2\n", "b/t.csv": b"z\n3\n", "c.pdf": PDF})),
                                  name="lote.zip")
    nodes = [node("archive", "io.input", name="archive", kind="file"),
             node("unzip", "file.unzip", pattern="*.csv"), node("zip", "file.zip", archive_name="solo-csv"),
             node("table", "io.input", name="table", kind="file"),
             node("read", "data.read_table"), node("write", "data.write_table", format="csv")]
    outputs = [output("out_zip", "zipped", "zip", "archive"), output("out_files", "unzipped", "unzip", "files"),
               output("out_count", "count", "read", "count"), output("out_table", "written", "write", "file")]
    edges = [edge("archive", "unzip", "value", "file"), edge("unzip", "zip", "files", "files"),
             edge("table", "read", "value", "file"), edge("read", "write", "rows", "rows")]
    spec = graph(nodes + [n for n, _ in outputs], edges + [e for _, e in outputs], name="batches")
    assert services.graphs.validate(spec) == []

    # When it runs
    version = services.graphs.save(spec)
    run = services.runs.wait(services.runs.start(version.id, {"archive": bundle.model_dump(),
                                                              "table": table.model_dump()}), timeout_s=60)

    # Then the lists came through whole and in order
    assert run.state == "succeeded", [(n.node_id, n.error_message) for n in run.nodes]
    assert [f["name"] for f in run.outputs["unzipped"]] == ["t.csv", "t (2).csv"]
    zipped = FileRef.model_validate(run.outputs["zipped"])
    assert zipped.name == "solo-csv.zip"
    with zipfile.ZipFile(services.artifacts.path(zipped)) as packed:
        assert [(n, packed.read(n)) for n in packed.namelist()] == [("t.csv", b"x,y\n1,2\n"), ("t (2).csv", b"z\n3\n")]
    assert run.outputs["count"] == 2
    written = FileRef.model_validate(run.outputs["written"])
    assert services.artifacts.read_bytes(written).decode("utf-8-sig") == "nombre,importe\r\nJosé,12.5\r\nAna,3.0\r\n"
