"""faster-whisper behind two calls: load a model once per worker process, transcribe one chunk of audio."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..base import NodeContext, NodeError
from .audio_stream import SAMPLE_RATE

_LOADING = threading.Lock()  # two threads of one worker must not load the same model twice


def load(ctx: NodeContext, path: Path) -> Any:
    """The WhisperModel for the folder `path`, from the per-process cache `ctx.models` when already loaded:
    on the GPU (float16) when CTranslate2 sees one and it works, else on the CPU (int8)."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may wait on the network: models load from folders only
    import ctranslate2

    devices = [("cuda", "float16")] if ctranslate2.get_cuda_device_count() > 0 else []
    for device, compute_type in [*devices, ("cpu", "int8")]:
        key = f"whisper:{path.resolve()}:{device}:{compute_type}"
        with _LOADING:
            if key in ctx.models:
                return ctx.models[key]
            try:
                ctx.models[key] = _load(ctx, path, device, compute_type)
                return ctx.models[key]
            except (RuntimeError, ValueError, OSError) as exc:
                if device == "cpu":
                    raise NodeError(f"The transcription model in {path} cannot be loaded ({exc}); fetch the "
                                    "whole model folder again.", code="model_unusable") from None
                ctx.log(f"The GPU cannot run the transcription model ({exc}); using the CPU.", "warning")
    raise AssertionError("unreachable: the CPU is always tried")


def _load(ctx: NodeContext, path: Path, device: str, compute_type: str) -> Any:
    from faster_whisper import WhisperModel

    ctx.log(f"Loading the transcription model {path} ({device}, {compute_type}).")
    model = WhisperModel(str(path), device=device, compute_type=compute_type, local_files_only=True)
    if device == "cuda":  # CUDA libraries (cuDNN, cuBLAS) are looked up only when the model first runs
        list(model.transcribe(np.zeros(SAMPLE_RATE, np.float32), language="en", beam_size=1)[0])
    return model


def transcribe(model: Any, audio: np.ndarray, offset_s: float, *, language: str | None, task: str,
               vad_filter: bool, word_timestamps: bool, beam_size: int) -> tuple[list[dict[str, Any]], str]:
    """Segments {start, end, text[, words]} of one chunk, timed from the file's start, and its language."""
    pieces, info = model.transcribe(audio, language=language, task=task, vad_filter=vad_filter,
                                    word_timestamps=word_timestamps, beam_size=beam_size)
    segments = []
    for piece in pieces:  # a generator: decoding happens while iterating
        segment: dict[str, Any] = {"start": round(offset_s + piece.start, 3),
                                   "end": round(offset_s + piece.end, 3), "text": piece.text.strip()}
        if word_timestamps:
            segment["words"] = [{"start": round(offset_s + w.start, 3), "end": round(offset_s + w.end, 3),
                                 "word": w.word.strip(), "probability": round(w.probability, 3)}
                                for w in piece.words or []]
        if segment["text"]:
            segments.append(segment)
    return segments, info.language


def known_language(code: str) -> bool:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return code in _LANGUAGE_CODES
