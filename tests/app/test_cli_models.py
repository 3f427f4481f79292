"""`minddocs models list` and `minddocs models add`, run as a person runs them, on a fresh data directory."""

from __future__ import annotations

import json
import shutil

from nodes.media.whisper_models import bundled_path
from tests.app.test_cli import minddocs, one_line


def test_list_shows_the_built_in_model(tmp_path):
    result = minddocs(tmp_path, "models", "list")

    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "tiny.en" in line)
    assert "English" in row and "built-in" in row and "ok" in row


def test_add_registers_a_model_folder_that_list_then_shows(tmp_path):
    # Given a copy of the bundled model in a folder of the user's choice
    folder = tmp_path / "my models" / "meeting-en"
    shutil.copytree(bundled_path(), folder)

    added = minddocs(tmp_path, "models", "add", "meeting", str(folder))
    listed = minddocs(tmp_path, "models", "list")

    assert added.returncode == 0, added.stderr
    assert one_line(added.stdout) == f"Added meeting (English only): {folder}"
    registry = json.loads((tmp_path / "data" / "models" / "models.json").read_text())
    assert registry == {"whisper": {"meeting": str(folder)}}
    row = next(line for line in listed.stdout.splitlines() if "meeting " in line)
    assert "registered" in row and str(folder) in row and "ok" in row


def test_add_refuses_a_folder_that_is_not_a_whisper_model(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"half a download")

    result = minddocs(tmp_path, "models", "add", "small", str(folder))

    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"Error: That is not a CTranslate2 Whisper model folder: {folder} lacks config.json, tokenizer.json, "
        "vocabulary.txt (or vocabulary.json).")
    assert not (tmp_path / "data" / "models" / "models.json").exists()


def test_add_refuses_a_bad_name_and_a_missing_folder(tmp_path):
    bad_name = minddocs(tmp_path, "models", "add", "my model", str(bundled_path()))
    missing = minddocs(tmp_path, "models", "add", "small", str(tmp_path / "nowhere"))

    assert bad_name.returncode == missing.returncode == 2
    assert "'my model' cannot be a model name" in one_line(bad_name.stderr)
    assert f"{tmp_path / 'nowhere'} is not a folder" in one_line(missing.stderr)


def test_list_flags_a_broken_model_in_the_models_folder(tmp_path):
    broken = tmp_path / "data" / "models" / "small"
    broken.mkdir(parents=True)
    (broken / "model.bin").write_bytes(b"")

    result = minddocs(tmp_path, "models", "list")

    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "small" in line)
    assert "folder" in row and "lacks config.json" in row
