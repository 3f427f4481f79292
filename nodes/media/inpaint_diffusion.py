"""The diffusion inpainting engine: a Stable Diffusion inpainting model in a local folder, run by diffusers.

torch and diffusers are an optional extra (`minddocs[media]`), imported only here and only when the engine
runs. A large photo is never diffused whole: a crop around the marked area (plus context) is scaled to the
model's resolution, inpainted, scaled back and pasted, and only the marked pixels are taken from it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from ..base import NodeContext, NodeError

HOW_TO_INSTALL = "see 'Installing an inpainting model' in docs/images.md, or choose the OpenCV engine"
_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
_load_lock = threading.Lock()  # one load at a time, so two runs never load the same model twice


class DiffusionSettings(BaseModel):
    model: str = Field("stable-diffusion-inpainting", max_length=500,
                       description="Model folder: a name inside the models folder, or an absolute path")
    prompt: str = Field("", max_length=1000, description="What should appear instead, e.g. 'empty bench'")
    negative_prompt: str = Field("", max_length=1000, description="What must not appear, e.g. 'person, text'")
    steps: int = Field(25, ge=1, le=150, description="Denoising steps: more is slower and often cleaner")
    guidance: float = Field(7.5, ge=0, le=30, description="How closely to follow the prompt")
    strength: float = Field(1.0, gt=0, le=1, description="1 repaints the area fully; lower keeps some of it")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Same seed, same result; empty = random")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = the GPU when there is one")
    padding_px: int = Field(64, ge=0, le=2048, description="Photo kept around the marked area as context")

    @model_validator(mode="after")
    def _some_step(self) -> DiffusionSettings:
        if self.steps * self.strength < 1:
            raise ValueError("steps × strength must be at least 1; raise the steps or the strength")
        return self


@dataclass
class _Loaded:
    pipe: Any
    lock: threading.Lock  # a pipeline's scheduler keeps state: one run at a time per pipeline


def model_folder(name: str, models_dir: Path | None) -> Path:
    """The folder of the model `name`, checked to hold a whole diffusers inpainting pipeline."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        if models_dir is None:
            raise NodeError(f"No models folder is set (setting models.directory), so the diffusion model "
                            f"'{name}' cannot be found; {HOW_TO_INSTALL}.", code="model_missing")
        if ".." in path.parts:
            raise NodeError(f"The model name '{name}' must stay inside the models folder.",
                            code="model_missing")
        path = models_dir / path
    if not (path / "model_index.json").is_file():
        raise NodeError(f"There is no diffusion model in '{name}' (no model_index.json in {path}); "
                        f"{HOW_TO_INSTALL}.", code="model_missing")
    missing = [p for p in _PARTS if not (path / p).is_dir()]
    missing += [f"{p} weights" for p in ("unet", "vae") if (path / p).is_dir() and not any(
        f.suffix in (".safetensors", ".bin") for f in (path / p).iterdir())]
    if missing:
        raise NodeError(f"The diffusion model in '{name}' is incomplete: it lacks {', '.join(missing)}. Copy "
                        f"the whole folder that save_pretrained wrote; {HOW_TO_INSTALL}.",
                        code="model_incomplete")
    return path


def _torch():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on network retries: models are local folders
    try:
        import diffusers
        import torch  # first: without torch, diffusers would fail in a less telling way
    except ImportError as exc:
        raise NodeError(f"The diffusion engine is not installed on this worker ({exc.name} is missing): "
                        "install the media extra (pip install 'minddocs[media]'), or choose the OpenCV "
                        "engine.",
                        code="engine_missing") from None
    return torch, diffusers


def _load(path: Path, name: str, device: str) -> Any:
    torch, diffusers = _torch()
    class_name = json.loads((path / "model_index.json").read_text(encoding="utf-8")).get("_class_name", "")
    if not class_name.endswith("InpaintPipeline") or not hasattr(diffusers, class_name):
        raise NodeError(f"The model in '{name}' is a {class_name or 'unknown pipeline'}, not an inpainting "
                        "model; install an inpainting model (for example Stable Diffusion inpainting).",
                        code="model_unusable")
    dtype = torch.float16 if device == "cuda" else torch.float32
    try:
        pipe = getattr(diffusers, class_name).from_pretrained(path, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise NodeError(f"The diffusion model in '{name}' cannot be loaded ({reason}); {HOW_TO_INSTALL}.",
                        code="model_incomplete") from None
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is not None and len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        # transformers loads a tokenizer folder without its vocabulary as an empty tokenizer, silently.
        raise NodeError(f"The tokenizer of the model in '{name}' has no vocabulary; copy the whole tokenizer "
                        f"folder; {HOW_TO_INSTALL}.", code="model_incomplete")
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _pipeline(ctx: NodeContext, path: Path, name: str, device: str) -> _Loaded:
    key = f"diffusion-inpaint:{path.resolve()}:{device}"
    with _load_lock:
        if key not in ctx.models:
            started = time.perf_counter()
            ctx.models[key] = _Loaded(_load(path, name, device), threading.Lock())
            seconds = time.perf_counter() - started
            ctx.log(f"Loaded the diffusion model '{name}' on {device} in {seconds:.1f} s.")
        return ctx.models[key]


def crop_box(mask: np.ndarray, padding: int) -> tuple[int, int, int, int]:
    """A square (where the photo allows) around the marked pixels plus `padding`: left, top, right, bottom."""
    height, width = mask.shape
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = max(bottom - top, right - left) + 2 * padding
    box = []
    for start, end, limit in ((left, right, width), (top, bottom, height)):
        size = min(side, limit)
        begin = min(max((start + end - size) // 2, 0), limit - size)
        box.append((int(begin), int(begin + size)))
    return box[0][0], box[1][0], box[0][1], box[1][1]


def fill(ctx: NodeContext, pixels: np.ndarray, mask: np.ndarray,
         settings: DiffusionSettings) -> tuple[np.ndarray, dict[str, Any]]:
    """`pixels` (H×W×3, uint8) with the True pixels of `mask` repainted by the model; and facts of the run."""
    from PIL import Image

    torch, _ = _torch()
    path = model_folder(settings.model, ctx.models_dir)
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise NodeError("This worker has no CUDA GPU; set the device to auto or cpu.", code="no_gpu")
    loaded = _pipeline(ctx, path, settings.model, device)
    pipe = loaded.pipe

    # Work at the model's own resolution, in sizes its UNet can halve down to the bottom block.
    sample = pipe.unet.config.sample_size
    resolution = (sample[0] if isinstance(sample, (list, tuple)) else sample) * pipe.vae_scale_factor
    multiple = pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
    left, top, right, bottom = crop_box(mask, settings.padding_px)
    scale = resolution / max(right - left, bottom - top)
    work = tuple(max(multiple, round(n * scale / multiple) * multiple) for n in (right - left, bottom - top))
    crop = Image.fromarray(pixels[top:bottom, left:right])
    hole = Image.fromarray(mask[top:bottom, left:right].astype(np.uint8) * 255)
    # Scaling blurs the hole's edge: a partly marked pixel counts as marked, so the model repaints all of it.
    hole = hole.resize(work, Image.Resampling.BILINEAR).point(lambda v: 255 if v else 0)

    seed = secrets.randbelow(2**32) if settings.seed is None else settings.seed
    with loaded.lock, torch.inference_mode():
        result = pipe(prompt=settings.prompt, negative_prompt=settings.negative_prompt or None,
                      image=crop.resize(work, Image.Resampling.LANCZOS), mask_image=hole, width=work[0],
                      height=work[1], num_inference_steps=settings.steps, guidance_scale=settings.guidance,
                      strength=settings.strength, generator=torch.Generator("cpu").manual_seed(seed))
    if any(getattr(result, "nsfw_content_detected", None) or []):
        raise NodeError("The model's safety checker blanked the result; try another seed or prompt.",
                        code="blocked_by_model")
    patch = np.asarray(result.images[0].convert("RGB").resize(crop.size, Image.Resampling.LANCZOS))
    filled = pixels.copy()
    region, marked = filled[top:bottom, left:right], mask[top:bottom, left:right]
    region[marked] = patch[marked]
    return filled, {"model": settings.model, "device": device, "steps": settings.steps, "seed": seed,
                    "crop": [left, top, right, bottom], "work_size": list(work)}
