"""The artifact store: content-addressed files, the size limit, and names and ids that cannot escape the folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.services import Services
from nodes.ports import FileRef
from storage.artifacts import ArtifactMissing, ArtifactStore, ArtifactTooLarge, LocalFiles, safe_name
from storage.models import Artifact
from tests.conftest import make_settings


def stored_files(root: Path) -> list[Path]:
    """The files holding content (the temporary folder aside)."""
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]


def artifact_rows(services: Services) -> int:
    with services.db.read() as session:
        return session.scalar(select(func.count()).select_from(Artifact))


def test_content_is_stored_under_its_sha256(services):
    ref = services.artifacts.put_bytes(b"Estimado/a Ana", name="letter.txt")

    sha = hashlib.sha256(b"Estimado/a Ana").hexdigest()
    assert ref == FileRef(artifact=sha, name="letter.txt", media_type="text/plain", size=14)
    assert services.artifacts.path(ref) == services.settings.artifacts_dir / sha[:2] / sha[2:4] / sha
    assert services.artifacts.read_bytes(ref) == b"Estimado/a Ana"


def test_the_same_content_is_stored_once(services):
    # Given the same bytes uploaded twice under different names, and from a file
    first = services.artifacts.put_bytes(b"same bytes", name="a.txt")
    second = services.artifacts.put_bytes(b"same bytes", name="b.pdf", media_type="application/pdf")
    path = services.settings.data_dir / "upload.bin"
    path.write_bytes(b"same bytes")
    third = services.artifacts.put_file(path)

    # Then there is one file and one database row, and each reference keeps its own name and type
    assert first.artifact == second.artifact == third.artifact
    assert (first.name, second.name, third.name) == ("a.txt", "b.pdf", "upload.bin")
    assert (first.media_type, second.media_type) == ("text/plain", "application/pdf")
    assert stored_files(services.settings.artifacts_dir) == [services.artifacts.path(first)]
    assert artifact_rows(services) == 1


def test_different_content_is_stored_apart(services):
    a = services.artifacts.put_bytes(b"one", name="x.txt")
    b = services.artifacts.put_bytes(b"two", name="x.txt")

    assert a.artifact != b.artifact
    assert len(stored_files(services.settings.artifacts_dir)) == 2
    assert artifact_rows(services) == 2


def test_an_empty_file_is_a_file(services):
    ref = services.artifacts.put_bytes(b"", name="empty.txt")

    assert ref.size == 0
    assert services.artifacts.read_bytes(ref) == b""


def test_copy_to_writes_the_content_where_asked(services, tmp_path):
    ref = services.artifacts.put_bytes(b"\x00\x01binary", name="blob.bin")

    target = services.artifacts.copy_to(ref, tmp_path / "copy.bin")

    assert target.read_bytes() == b"\x00\x01binary"


@pytest.fixture
def small_store(services, tmp_path) -> ArtifactStore:
    """A store that takes at most 10 bytes, on the same database."""
    return ArtifactStore(services.db, LocalFiles(tmp_path / "small"), max_bytes=10)


def test_a_file_over_the_limit_is_refused_and_leaves_nothing_behind(small_store, services):
    with pytest.raises(ArtifactTooLarge) as caught:
        small_store.put_bytes(b"x" * 11, name="big.txt")

    assert caught.value.limit == 10
    root = small_store.backend.root
    assert list(small_store.backend.tmp.iterdir()) == [], "a temporary file was left behind"
    assert stored_files(root) == []
    assert artifact_rows(services) == 0


def test_a_file_at_the_limit_is_kept(small_store):
    ref = small_store.put_bytes(b"x" * 10, name="fits.txt")

    assert ref.size == 10
    assert list(small_store.backend.tmp.iterdir()) == []
    assert stored_files(small_store.backend.root) == [small_store.path(ref)]


def test_the_limit_holds_across_chunks(services, tmp_path):
    # Given a limit of 1.5 MB, above one read chunk (1 MB)
    store = ArtifactStore(services.db, LocalFiles(tmp_path / "chunks"), max_bytes=1536 * 1024)

    # When a 2 MB stream arrives
    with pytest.raises(ArtifactTooLarge):
        store.put_bytes(b"y" * (2 * 1024 * 1024), name="two-mb.bin")

    # Then it is refused once the second chunk passes the limit, and nothing is left
    assert list(store.backend.tmp.iterdir()) == []
    assert stored_files(store.backend.root) == []


def test_the_limit_message_names_the_limit_in_mb():
    assert str(ArtifactTooLarge(200 * 1024 * 1024)) == "The file is larger than the limit of 200 MB."


def test_the_limit_comes_from_the_settings(tmp_path):
    with Services(make_settings(tmp_path / "data", storage={"max_upload_mb": 1})) as svc:
        with pytest.raises(ArtifactTooLarge):
            svc.artifacts.put_bytes(b"z" * (1024 * 1024 + 1), name="big.bin")
        assert svc.artifacts.put_bytes(b"z" * (1024 * 1024), name="ok.bin").size == 1024 * 1024


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("report\x00.pdf", "report.pdf"),
        ("line\nbreak\r\t.txt", "linebreak.txt"),
        (".bashrc", "bashrc"),
        ("...hidden.txt", "hidden.txt"),
        ("  spaced.txt  ", "spaced.txt"),
        ("..", "file"),
        ("", "file"),
        ("folder/", "file"),
        ("Informe de reserva (ñ).pdf", "Informe de reserva (ñ).pdf"),
    ],
)
def test_safe_name_strips_folders_control_characters_and_leading_dots(given, kept):
    assert safe_name(given) == kept


def test_safe_name_keeps_names_short():
    assert len(safe_name("a" * 1000 + ".txt")) == 255


def test_an_uploaded_name_cannot_leave_the_store(services):
    ref = services.artifacts.put_bytes(b"secret", name="../../../outside.txt")

    assert ref.name == "outside.txt"
    assert not (services.settings.data_dir.parent / "outside.txt").exists()
    assert services.artifacts.path(ref).is_relative_to(services.settings.artifacts_dir)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[Services]:
    """One store for the tests that only read: building Services per case would dominate their run time."""
    svc = Services(make_settings(tmp_path_factory.mktemp("data")))
    yield svc
    svc.close()


@pytest.mark.parametrize(
    "artifact_id",
    ["../../etc/passwd", "..", "", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "../" + "a" * 61, "a" * 64 + "\n"],
)
def test_an_id_that_is_not_a_sha256_is_refused(shared, artifact_id):
    with pytest.raises(ArtifactMissing, match="is not an artifact id"):
        shared.artifacts.path(artifact_id)
    with pytest.raises(ArtifactMissing, match="is not an artifact id"):
        shared.artifacts.open(artifact_id)


def test_a_forged_reference_is_refused_too(shared):
    forged = FileRef.model_construct(artifact="../../etc/passwd", name="passwd", size=1)

    with pytest.raises(ArtifactMissing):
        shared.artifacts.read_bytes(forged)


def test_a_missing_artifact_says_so(shared):
    sha = hashlib.sha256(b"never stored").hexdigest()

    with pytest.raises(ArtifactMissing, match="is missing from the artifact folder"):
        shared.artifacts.read_bytes(sha)
