"""Audio read in pieces with PyAV: a duration probe, then 16 kHz chunks cut at quiet moments, so a long
recording never sits in memory whole (faster-whisper's own decoder keeps the whole file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av.audio.resampler
import av.error
import numpy as np

from ..base import NodeInputError

SAMPLE_RATE = 16_000
CHUNK_SECONDS = 600.0  # ~40 MB of stereo samples; whisper itself works in 30 s windows
QUIET_SEARCH_SECONDS = 10.0  # where a chunk may end: the quietest 0.1 s of its last 10 s


@dataclass(frozen=True)
class Probe:
    duration_s: float | None  # None when the container does not say
    channels: int


def probe(path: Path, port: str) -> Probe:
    """The duration and channel count from the container's header, without decoding."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise NodeInputError(port, "The file holds no audio track.")
            stream = container.streams.audio[0]
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = container.duration / av.time_base if container.duration else None
            return Probe(duration, stream.codec_context.channels or 1)
    except av.error.FFmpegError as exc:
        raise NodeInputError(port, damaged(exc)) from None


def chunks(path: Path, port: str, *, stereo: bool, max_seconds: float,
           chunk_seconds: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, float32 samples) pieces of about `chunk_seconds`: shape (n,) or, with `stereo`,
    (2, n). Refuses audio past `max_seconds` while decoding, for files whose header does not tell."""
    channels = 2 if stereo else 1
    target = int((chunk_seconds or CHUNK_SECONDS) * SAMPLE_RATE)
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="stereo" if stereo else "mono",
                                                  rate=SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_n = offset = 0
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            for frame in _frames(container):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1, channels).T  # packed s16: interleaved channels
                    pending.append(samples)
                    pending_n += samples.shape[1]
                    if (offset + pending_n) / SAMPLE_RATE > max_seconds:
                        raise NodeInputError(port, too_long(None, max_seconds))
                    if pending_n >= target:
                        buffer = np.concatenate(pending, axis=1)
                        cut = quiet_cut(buffer, target)
                        yield offset / SAMPLE_RATE, _as_float(buffer[:, :cut], stereo)
                        pending, pending_n, offset = [buffer[:, cut:]], buffer.shape[1] - cut, offset + cut
    except av.error.FFmpegError as exc:
        raise NodeInputError(port, damaged(exc)) from None
    if offset + pending_n == 0:
        raise NodeInputError(port, "No sound could be decoded from the file: it is damaged or empty.")
    if pending_n:
        yield offset / SAMPLE_RATE, _as_float(np.concatenate(pending, axis=1), stereo)


def too_long(duration_s: float | None, max_seconds: float) -> str:
    lasts = f"The audio lasts {_minutes(duration_s)}, longer" if duration_s else "The audio is longer"
    return (f"{lasts} than the limit of {_minutes(max_seconds)}; split it, or ask the administrator to raise "
            "MINDDOCS_LIMITS__MAX_AUDIO_MINUTES.")


def quiet_cut(buffer: np.ndarray, target: int) -> int:
    """Where to end a chunk near `target` samples: in the quietest 0.1 s of the last seconds before it
    (at most the second half of the chunk), so that no word is cut in two."""
    window = SAMPLE_RATE // 10
    start = max(target // 2, target - int(QUIET_SEARCH_SECONDS * SAMPLE_RATE))
    mix = buffer[:, start:target].astype(np.float32).mean(axis=0)
    frames = len(mix) // window
    if frames < 2:
        return target
    energy = (mix[:frames * window].reshape(frames, window) ** 2).mean(axis=1)
    return start + int(np.argmin(energy)) * window + window // 2


def _frames(container) -> Iterator:
    """Decoded frames of the first audio track, skipping single damaged frames as ffmpeg does."""
    decoded = container.decode(audio=0)
    while True:
        try:
            frame = next(decoded)
        except StopIteration:
            break
        except av.error.InvalidDataError:
            continue
        yield frame
    yield None  # flushes the resampler


def _as_float(samples: np.ndarray, stereo: bool) -> np.ndarray:
    audio = samples.astype(np.float32) / 32768.0
    return audio if stereo else audio[0]


def damaged(exc: Exception) -> str:
    return f"The audio file is damaged and cannot be read ({getattr(exc, 'strerror', None) or exc})."


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.1f} seconds"
