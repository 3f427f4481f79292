"""audio.transcribe: speech to text, segments and subtitles with faster-whisper (the optional media extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .base import NodeContext, NodeError, NodeInputError, NodeType
from .files import expect_kind
from .ports import Audio, File, Json, Text
from .registry import register

AUDIO_KINDS = {"wav", "flac", "mp3", "ogg", "m4a", "mp4", "aiff"}
MEDIA_EXTRA = "Audio transcription needs the media extra: pip install 'minddocs[media]'."


class TranscribeConfig(BaseModel):
    model: str = Field("tiny.en", min_length=1, max_length=1000,
                       description="A name from `minddocs models list`, or a Whisper model's folder")
    language: str = Field("auto", pattern=r"^(auto|[a-z]{2,3})$",
                          description="'auto' to detect it, or a language code such as en, es, fr")
    task: Literal["transcribe", "translate"] = Field("transcribe", description="translate = into English")
    vad_filter: bool = Field(True, title="Skip silence (VAD)",
                             description="Faster, and fewer made-up words in long pauses")
    word_timestamps: bool = Field(False, title="Word timings", description="Time every word (in segments)")
    split_channels: bool = Field(False, title="One speaker per channel",
                                 description="Stereo with one person per channel: transcribe each apart")
    beam_size: int = Field(5, ge=1, le=10, description="Higher is a little more accurate and slower")


class TranscribeIn(BaseModel):
    audio: Audio


class TranscribeOut(BaseModel):
    text: Text
    segments: Json = Field(description="[{start, end, text, channel?, words?}], times in seconds")
    srt: File
    vtt: File
    language: Text


@register
class Transcribe(NodeType[TranscribeConfig, TranscribeIn, TranscribeOut]):
    """Turn speech in an audio file into text, timed segments and subtitles (SRT, WebVTT).

    WAV, FLAC, MP3, M4A, OGG and AIFF; stereo is mixed down unless `split_channels` transcribes each
    channel as its own speaker. Nothing is downloaded: the model is a name from `minddocs models list`
    (tiny.en, English, is built in) or a model folder.
    """

    type_id = "audio.transcribe"
    display_name = "Transcribe audio"
    category = "audio"
    queue = "media"
    timeout_s = 3600.0  # hours of audio on a CPU take minutes

    def run(self, ctx: NodeContext, config: TranscribeConfig, inputs: TranscribeIn) -> TranscribeOut:
        try:  # faster-whisper and PyAV come with the optional media extra
            import av  # noqa: F401
            import faster_whisper  # noqa: F401

            from .media import audio_stream, subtitles, whisper, whisper_models
        except ImportError:
            raise NodeError(MEDIA_EXTRA, code="missing_extra") from None
        if inputs.audio.size == 0:
            raise NodeInputError("audio", "The audio file is empty (0 bytes); upload the recording again.")
        path = ctx.artifacts.path(inputs.audio)
        expect_kind(path, "audio", AUDIO_KINDS, "Transcribe audio")
        try:
            model_path = whisper_models.resolve(config.model, ctx.models_dir)
        except whisper_models.ModelError as exc:
            raise NodeError(str(exc), port="model", code="model_missing") from None
        language = _language(config, whisper_models.is_multilingual(model_path) is not False)
        probe, limit = audio_stream.probe(path, "audio"), ctx.limits.max_audio_seconds
        if probe.duration_s and probe.duration_s > limit:
            raise NodeInputError("audio", audio_stream.too_long(probe.duration_s, limit))
        model = whisper.load(ctx, model_path)
        stereo = config.split_channels and probe.channels >= 2
        if config.split_channels and not stereo:
            ctx.log("The audio has one channel; split_channels needs stereo, so it is transcribed whole.",
                    "warning")
        segments: list[dict[str, Any]] = []
        for offset, samples in audio_stream.chunks(path, "audio", stereo=stereo, max_seconds=limit):
            ctx.check_cancelled()
            parts = [("left", samples[0]), ("right", samples[1])] if stereo else [(None, samples)]
            for channel, mono in parts:
                found, language = whisper.transcribe(
                    model, mono, offset, language=language, task=config.task, vad_filter=config.vad_filter,
                    word_timestamps=config.word_timestamps, beam_size=config.beam_size)
                segments += [{**s, "channel": channel} if channel else s for s in found]
            ctx.log(f"Transcribed up to {offset + samples.shape[-1] / audio_stream.SAMPLE_RATE:.0f} s.")
        segments.sort(key=lambda s: (s["start"], s.get("channel") or ""))
        stem = Path(inputs.audio.name).stem or "transcript"
        return TranscribeOut(
            text=_text(segments), segments=segments, language=language or "",
            srt=ctx.artifacts.put_bytes(subtitles.to_srt(segments).encode(), name=f"{stem}.srt",
                                        media_type="application/x-subrip"),
            vtt=ctx.artifacts.put_bytes(subtitles.to_vtt(segments).encode(), name=f"{stem}.vtt",
                                        media_type="text/vtt"))


def _language(config: TranscribeConfig, multilingual: bool) -> str | None:
    """The fixed language code to decode with, or None to detect it (on the first chunk, then kept)."""
    from .media.whisper import known_language

    if config.language != "auto" and not known_language(config.language):
        raise NodeError(f"'{config.language}' is not a language code Whisper knows (such as en, es, fr).",
                        port="language", code="bad_config")
    if not multilingual and (config.task == "translate" or config.language not in ("auto", "en")):
        wanted = "Translating" if config.task == "translate" else f"Transcribing '{config.language}'"
        raise NodeError(f"The model '{config.model}' knows English only. {wanted} needs a multilingual model "
                        "(a name without .en, such as small); see \"Transcription models\" in the README.",
                        port="model", code="bad_config")
    return None if config.language == "auto" else config.language


def _text(segments: list[dict[str, Any]]) -> str:
    if any(s.get("channel") for s in segments):  # one line per turn, named by its channel
        return "\n".join(f"{s['channel'].capitalize()}: {s['text']}" for s in segments)
    return " ".join(s["text"] for s in segments)
