"""Image benchmarks: OpenCV inpainting of a 2000×1500 photo, and the diffusion engine's own cost on a CPU.

1. OpenCV: the corpus photo photo_dog_bench.png and its mask, scaled up to 2000×1500 (the mask covers
   the dog, about 13 % of the picture). Times the engine alone (cv2.inpaint + paste, median of --repeat) for
   Telea and Navier–Stokes, and the whole image.inpaint node once per method (PNG decode, mask checks, engine,
   PNG encode, storing the artifact).
2. Diffusion: the tiny randomly initialised Stable Diffusion inpainting pipeline of the tests (64×64, the real
   diffusers pipeline code), 2 steps on the CPU: load, first run (warm-up) and steady runs, with torch's
   default threads and with one thread, plus one node run on the 2000×1500 photo (crop, scale, paste). It
   measures the engine's overhead, not a real model: no real weights can be fetched here.

    .venv/bin/python bench/media_images.py                 # ~1-2 min on 2 cores
    .venv/bin/python bench/media_images.py --skip-diffusion # without the media extra

Writes bench/results/media_images-<time>.json and prints the figures as a Markdown section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
from PIL import Image

from app.services import Services
from nodes.base import NodeContext
from nodes.image_inpaint import ImageInpaint, InpaintConfig, InpaintIn
from nodes.media import inpaint_opencv
from tests.conftest import CORPUS, make_settings

SIZE = (2000, 1500)


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
               platform.processor())
    import cv2

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "opencv": cv2.__version__, "pillow": Image.__version__,
            "load_average_at_start": list(os.getloadavg())}


def timed(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def big_photo(folder: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    photo = Image.open(CORPUS / "photo_dog_bench.png").convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    mask = Image.open(CORPUS / "photo_dog_bench_mask.png").convert("L").resize(SIZE)
    photo.save(folder / "photo.png")
    mask.save(folder / "mask.png")
    return folder / "photo.png", folder / "mask.png", np.asarray(photo), np.asarray(mask) > 127


def bench_opencv(ctx: NodeContext, paths: tuple[Path, Path], pixels: np.ndarray, mask: np.ndarray,
                 repeat: int) -> dict[str, Any]:
    photo, mask_ref = (ctx.artifacts.put_file(p) for p in paths)
    out: dict[str, Any] = {"photo": f"{SIZE[0]}×{SIZE[1]}", "mask_share": round(float(mask.mean()), 3)}
    for method in ("telea", "navier_stokes"):
        settings = inpaint_opencv.OpenCVSettings(method=method)
        config, inputs = InpaintConfig(opencv=settings), InpaintIn(image=photo, mask=mask_ref)
        engine = timed(lambda s=settings: inpaint_opencv.fill(pixels, mask, s), repeat)
        node = timed(lambda c=config, i=inputs: ImageInpaint().run(ctx, c, i), repeat)
        out[method] = {"engine_s_median": round(statistics.median(engine), 2),
                       "node_s": round(statistics.median(node), 2),
                       "engine_s_all": [round(t, 2) for t in engine],
                       "node_s_all": [round(t, 2) for t in node]}
        print(f"opencv {method}: engine {out[method]['engine_s_median']} s, node {out[method]['node_s']} s "
              f"(medians of {repeat})", flush=True)
    return out


def bench_diffusion(ctx: NodeContext, paths: tuple[Path, Path], repeat: int) -> dict[str, Any]:
    import torch

    from nodes.media import inpaint_diffusion
    from tests.nodes.test_image_nodes import build_tiny_pipeline

    started = time.perf_counter()
    model = build_tiny_pipeline(Path(tempfile.mkdtemp(prefix="tiny-inpaint-")))
    built = time.perf_counter() - started
    ctx.models_dir = model.parent
    small = np.asarray(Image.open(CORPUS / "photo_dog_bench.png").convert("RGB").resize((64, 64)))
    hole = np.asarray(Image.open(CORPUS / "photo_dog_bench_mask.png").convert("L").resize((64, 64))) > 127
    settings = inpaint_diffusion.DiffusionSettings(model=model.name, steps=2, seed=1, device="cpu",
                                                   padding_px=0)
    threads = torch.get_num_threads()
    out: dict[str, Any] = {"torch": torch.__version__, "build_and_save_s": round(built, 2),
                           "default_threads": threads}
    started = time.perf_counter()
    inpaint_diffusion.fill(ctx, small, hole, settings)
    out["load_and_first_run_s"] = round(time.perf_counter() - started, 2)
    for count, key in ((threads, "run_s_default_threads"), (1, "run_s_one_thread")):
        torch.set_num_threads(count)
        out[key] = round(statistics.median(timed(lambda: inpaint_diffusion.fill(ctx, small, hole, settings),
                                                 repeat)), 3)
    photo, mask_ref = (ctx.artifacts.put_file(p) for p in paths)
    config = InpaintConfig(engine="diffusion", diffusion=settings.model_copy(update={"padding_px": 64}))
    node = timed(lambda: ImageInpaint().run(ctx, config, InpaintIn(image=photo, mask=mask_ref)), 1)
    out["node_on_2000x1500_s"] = round(node[0], 2)
    print(f"diffusion (tiny, CPU): {json.dumps(out)}", flush=True)
    return out


def markdown(result: dict[str, Any]) -> str:
    m, o, d = result["machine"], result["opencv"], result.get("diffusion")
    torch_version = f", torch {d['torch']} (CPU)" if d else ""
    lines = [
        "", "## Images", "",
        (f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores; load average "
         f"{m['load_average_at_start'][0]:.1f} at the start: a shared machine, so read the figures as upper "
         f"bounds), Python {m['python']}, OpenCV {m['opencv']}, Pillow {m['pillow']}{torch_version}."), "",
        f"Command: `{result['command']}`", "",
        (f"OpenCV inpainting, {o['photo']} photo, mask {o['mask_share'] * 100:.0f} % of the picture (the "
         "corpus dog scaled up):"), "",
        (f"| method | engine: median (min–max) of {result['repeat']} | whole node: decode, engine, PNG "
         "encode, store; median (min–max) |"), "|---|---|---|",
    ]
    for method in ("telea", "navier_stokes"):
        engine, node = o[method]["engine_s_all"], o[method]["node_s_all"]
        lines.append(f"| {method} | {o[method]['engine_s_median']} s ({min(engine)}–{max(engine)}) | "
                     f"{o[method]['node_s']} s ({min(node)}–{max(node)}) |")
    if d:
        lines += [
            "",
            ("Diffusion engine on the CPU with the tiny random pipeline of the tests (64×64, 2 steps): the "
             "cost of the real diffusers code path, not of a real model:"),
            "",
            (f"- build and save the pipeline (imports included): {d['build_and_save_s']} s; load + first run "
             f"(warm-up): {d['load_and_first_run_s']} s"),
            (f"- one run: {d['run_s_default_threads']} s with torch's {d['default_threads']} threads, "
             f"{d['run_s_one_thread']} s with 1 thread"),
            (f"- whole node on the 2000×1500 photo (crop around the mask, scale to 64×64, paste back; 1 "
             f"thread): {d['node_on_2000x1500_s']} s"),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-diffusion", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"date": datetime.now().strftime("%Y-%m-%d"), "machine": machine(),
                              "repeat": args.repeat,
                              "command": "python " + " ".join(["bench/media_images.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory() as folder:
        services = Services(make_settings(Path(folder) / "data"))  # for its artifact store; no worker
        try:
            ctx = NodeContext(run_id="bench", node_id="inpaint", artifacts=services.artifacts)
            photo, mask, pixels, marked = big_photo(Path(folder))
            result["opencv"] = bench_opencv(ctx, (photo, mask), pixels, marked, args.repeat)
            if not args.skip_diffusion:
                result["diffusion"] = bench_diffusion(ctx, (photo, mask), args.repeat)
        finally:
            services.close()
    out = ROOT / "bench" / "results" / f"media_images-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
