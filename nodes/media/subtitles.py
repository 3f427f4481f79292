"""Subtitle files (SRT and WebVTT) from transcription segments {start, end, text, channel?}."""

from __future__ import annotations

from typing import Any


def to_srt(segments: list[dict[str, Any]]) -> str:
    cues = []
    for i, s in enumerate(segments, 1):
        text = f"[{s['channel']}] {_lines(s['text'])}" if s.get("channel") else _lines(s["text"])
        cues.append(f"{i}\n{_time(s['start'], ',')} --> {_time(_end(s), ',')}\n{text}\n")
    return "\n".join(cues)


def to_vtt(segments: list[dict[str, Any]]) -> str:
    cues = []
    for s in segments:
        text = _lines(s["text"]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = f"<v {s['channel']}>{text}" if s.get("channel") else text
        cues.append(f"{_time(s['start'], '.')} --> {_time(_end(s), '.')}\n{text}\n")
    return "WEBVTT\n\n" + "\n".join(cues)


def _time(seconds: float, decimal: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{ms:03d}"


def _end(segment: dict[str, Any]) -> float:
    return max(segment["end"], segment["start"])  # a cue never ends before it starts


def _lines(text: str) -> str:
    # a blank line would end the cue early, so empty lines go; an empty cue would be dropped by players
    return "\n".join(line.strip() for line in text.splitlines() if line.strip()) or "…"
