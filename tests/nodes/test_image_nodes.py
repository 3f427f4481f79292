"""image.inpaint, image.enhance and image.convert on the corpus photos, run with a real NodeContext and store.

The diffusion tests run the real diffusers pipeline code on a tiny randomly initialised model built here,
offline; they need the media extra (torch, diffusers, transformers) and fail without it, on purpose.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.services import Services
from nodes.base import NodeContext, NodeError, NodeInputError
from nodes.files import Limits
from nodes.image_convert import ConvertConfig, ConvertIn, ImageConvert
from nodes.image_enhance import EnhanceConfig, EnhanceIn, ImageEnhance
from nodes.image_inpaint import ImageInpaint, InpaintConfig, InpaintIn
from nodes.ports import FileRef
from tests.conftest import CORPUS, make_settings

DOG, DOG_MASK = CORPUS / "photo_dog_bench.png", CORPUS / "photo_dog_bench_mask.png"
COFFEE = CORPUS / "photo_coffee_spoon.png"
GPS_IFD, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[Services]:
    svc = Services(make_settings(tmp_path_factory.mktemp("data")))  # one store for the module; not started
    yield svc
    svc.close()


@pytest.fixture
def logs() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def ctx(services: Services, tmp_path: Path, logs) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="n1", artifacts=services.artifacts,
                       models_dir=tmp_path / "models",
                       log_sink=lambda level, message: logs.append((level, message)))


def put(ctx: NodeContext, source: Path | bytes | Image.Image, name: str = "photo.png", **save) -> FileRef:
    if isinstance(source, Path):
        return ctx.artifacts.put_file(source, name=name)
    if isinstance(source, Image.Image):
        buffer = io.BytesIO()
        source.save(buffer, save.pop("format", "PNG"), **save)
        source = buffer.getvalue()
    return ctx.artifacts.put_bytes(source, name=name, media_type="application/octet-stream")


def pixels(ctx: NodeContext, ref: FileRef) -> np.ndarray:
    return np.asarray(Image.open(ctx.artifacts.path(ref)))


def opened(ctx: NodeContext, ref: FileRef) -> Image.Image:
    return Image.open(ctx.artifacts.path(ref))


def dog_mask() -> np.ndarray:
    return np.asarray(Image.open(DOG_MASK).convert("L")) > 127


def inpaint(ctx: NodeContext, image: FileRef, mask: FileRef | None = None, **config):
    return ImageInpaint().run(ctx, InpaintConfig(**config), InpaintIn(image=image, mask=mask))


# --- image.inpaint with OpenCV -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["telea", "navier_stokes"])
def test_opencv_fills_the_dog_from_the_bench_and_grass_around_it(ctx, method):
    out = inpaint(ctx, put(ctx, DOG), put(ctx, DOG_MASK, "mask.png"), opencv={"method": method})

    before, after, mask = np.asarray(Image.open(DOG).convert("RGB")), pixels(ctx, out.image), dog_mask()
    assert after.shape == before.shape
    assert (out.image.media_type, out.image.name) == ("image/png", "photo.png")
    assert np.array_equal(after[~mask], before[~mask])  # not one pixel outside the mask moved
    changed = np.abs(after[mask].astype(int) - before[mask].astype(int)).sum(axis=1) > 30
    assert changed.mean() > 0.8
    # The white dog gives way to colours of its surroundings (a 20-pixel ring around the mask).
    import cv2

    ring = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool) & ~mask
    surroundings = before[ring].mean(axis=0)
    assert np.linalg.norm(after[mask].mean(axis=0) - surroundings) < 0.4 * np.linalg.norm(
        before[mask].mean(axis=0) - surroundings)
    assert np.abs(after[mask].mean(axis=0) - surroundings).max() < 12
    white = (before[mask].min(axis=1) > 190).mean(), (after[mask].min(axis=1) > 190).mean()
    assert white[1] < white[0] / 3  # the white fur is gone
    assert out.info["engine"] == "opencv" and out.info["method"] == method
    assert out.info["mask_pixels"] == int(mask.sum()) and out.info["mask_resized"] is False


def test_rectangles_and_polygons_in_the_settings_replace_a_mask(ctx):
    regions = [{"shape": "rectangle", "x": 10, "y": 20, "width": 30, "height": 15},
               {"shape": "polygon", "points": [[200, 200], [260, 210], [230, 260]]}]

    out = inpaint(ctx, put(ctx, DOG), regions=regions)

    changed = np.any(pixels(ctx, out.image) != np.asarray(Image.open(DOG).convert("RGB")), axis=2)
    assert not changed[:20].any() and not changed[35:200].any()  # rows between the two shapes are untouched
    assert changed[20:35, 10:40].mean() > 0.3 and changed[200:261, 200:261].any()
    assert 30 * 15 < out.info["mask_pixels"] < 30 * 15 + 60 * 61


def test_dilating_grows_the_area_that_changes(ctx):
    photo, mask = put(ctx, DOG), put(ctx, DOG_MASK, "mask.png")

    plain, grown = inpaint(ctx, photo, mask), inpaint(ctx, photo, mask, dilate_px=6)

    assert grown.info["mask_pixels"] > plain.info["mask_pixels"] * 1.05


def test_transparency_of_the_photo_is_kept_and_transparent_mask_pixels_mean_keep(ctx):
    photo = Image.open(DOG).convert("RGBA")
    photo.putalpha(200)
    # A mask as an editor exports it: white strokes on a transparent layer whose hidden colour is white.
    mask = Image.new("RGBA", photo.size, (255, 255, 255, 0))
    mask.paste((255, 255, 255, 255), (100, 100, 150, 150))

    out = inpaint(ctx, put(ctx, photo), put(ctx, mask, "mask.png"))

    result = pixels(ctx, out.image)
    assert result.shape == (512, 512, 4) and (result[..., 3] == 200).all()
    assert out.info["mask_pixels"] == 50 * 50


def test_a_scaled_mask_is_resized_with_a_warning(ctx, logs):
    half = Image.open(DOG_MASK).resize((256, 256))

    out = inpaint(ctx, put(ctx, DOG), put(ctx, half, "mask.png"))

    assert out.info["mask_resized"] is True
    assert abs(out.info["mask_pixels"] - dog_mask().sum()) < 0.05 * dog_mask().sum()
    warning = "The mask is 256×256 pixels and the photo 512×512; the mask was scaled to fit."
    assert ("warning", warning) in logs


def test_a_mask_of_another_shape_is_refused(ctx):
    with pytest.raises(NodeInputError) as caught:
        inpaint(ctx, put(ctx, DOG), put(ctx, Image.new("L", (300, 200), 255), "mask.png"))

    assert caught.value.port == "mask"
    assert "mask is 300×200 pixels but the photo is 512×512" in caught.value.message


@pytest.mark.parametrize(("mask", "regions", "says"), [
    (Image.new("L", (512, 512), 0), [], "marks nothing to remove"),
    (Image.new("L", (512, 512), 255), [], "covers the whole photo"),
    (None, [], "Nothing is marked for removal"),
    (None, [{"shape": "rectangle", "x": 900, "y": 900, "width": 5, "height": 5}], "marks nothing to remove"),
])
def test_an_empty_or_full_mask_is_a_clear_error(ctx, mask, regions, says):
    with pytest.raises(NodeInputError) as caught:
        inpaint(ctx, put(ctx, DOG), put(ctx, mask, "mask.png") if mask else None, regions=regions)

    assert caught.value.port == "mask" and says in caught.value.message


def test_diffusion_without_a_model_folder_says_so_and_offers_opencv(ctx):
    with pytest.raises(NodeError) as caught:
        inpaint(ctx, put(ctx, DOG), put(ctx, DOG_MASK, "mask.png"), engine="diffusion")

    assert caught.value.code == "model_missing"
    assert "no model_index.json" in caught.value.message and "OpenCV engine" in caught.value.message


# --- bad input, shared by the three nodes ------------------------------------------------------------------


def truncated_png() -> bytes:
    return DOG.read_bytes()[:60_000]


def bomb_png(side: int = 12_000) -> bytes:
    """A valid 1-bit PNG of side×side pixels (144 megapixels) in about 20 kB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    rows = zlib.compress(b"\x00" * ((side // 8 + 1) * side), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


RUNNERS = {
    "inpaint": lambda ctx, ref: inpaint(ctx, ref, regions=[{"shape": "rectangle", "x": 1, "y": 1, "width": 2,
                                                            "height": 2}]),
    "enhance": lambda ctx, ref: ImageEnhance().run(ctx, EnhanceConfig(), EnhanceIn(image=ref)),
    "convert": lambda ctx, ref: ImageConvert().run(ctx, ConvertConfig(), ConvertIn(image=ref)),
}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the bomb: refused all the same
@pytest.mark.parametrize("node", RUNNERS)
@pytest.mark.parametrize(("content", "says"), [
    (truncated_png(), "The image is damaged or cut short"),
    (bomb_png(), "more than the limit of 100 megapixels"),
    ((CORPUS / "pdf_form_libreoffice.pdf").read_bytes(), "This file is a PDF file, but"),
    (b"", "The file is empty (0 bytes)"),
    (b"just some words, not a picture\n" * 20, "This file is a TEXT file, but"),
])
def test_bad_images_are_refused_with_a_sentence(ctx, node, content, says):
    with pytest.raises(NodeInputError) as caught:
        RUNNERS[node](ctx, put(ctx, content, "upload.png"))

    assert caught.value.port == "image" and says in caught.value.message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("limit", "says"), [
    (200_000, "The image is 512×512 pixels, more than the limit of 0.2 megapixels; resize it first."),
    (100_000, "The image claims more than twice the limit of 0.1 megapixels; that looks like a"),
])
def test_the_pixel_limit_comes_from_the_settings(ctx, monkeypatch, limit, says):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # the node sets Pillow's guard too
    ctx.limits = Limits(max_image_pixels=limit)

    with pytest.raises(NodeInputError) as caught:
        RUNNERS["enhance"](ctx, put(ctx, DOG))

    assert says in caught.value.message


# --- image.enhance -----------------------------------------------------------------------------------------


def enhance(ctx: NodeContext, image: FileRef, logo: FileRef | None = None, **config):
    return ImageEnhance().run(ctx, EnhanceConfig(**config), EnhanceIn(image=image, watermark=logo)).image


def camera_jpeg(orientation: int = 1, gps: bool = True) -> bytes:
    """The coffee photo as a camera saves it: EXIF with make, orientation and a GPS position; XMP; comment."""
    exif = Image.Exif()
    exif[MAKE], exif[ORIENTATION] = "Canon", orientation
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (41.0, 23.0, 12.5), 3: "E", 4: (2.0, 10.0, 48.0)})
    buffer = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    Image.open(COFFEE).convert("RGB").save(buffer, "JPEG", quality=92, exif=exif.tobytes(), xmp=xmp,
                                           comment=b"Room 204, guest Ana Garcia")
    return buffer.getvalue()


def test_a_photo_taken_sideways_is_turned_upright(ctx):
    # Given the coffee photo (600×400) stored turned a quarter, with EXIF orientation 6 saying "turn it back"
    stored = Image.open(COFFEE).convert("RGB").transpose(Image.Transpose.ROTATE_90)  # 400×600 on disk
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    ref = put(ctx, stored, "IMG_0001.JPG", format="JPEG", quality=95, exif=exif.tobytes())

    out = enhance(ctx, ref)

    result = opened(ctx, out)
    assert result.size == (600, 400) and result.format == "JPEG" and out.name == "IMG_0001.jpg"
    assert result.getexif().get(ORIENTATION, 1) == 1
    original = np.asarray(Image.open(COFFEE).convert("RGB"), dtype=int)
    assert np.abs(np.asarray(result, dtype=int) - original).mean() < 4


def test_without_auto_orient_the_orientation_tag_survives_stripping(ctx):
    out = enhance(ctx, put(ctx, camera_jpeg(orientation=6), "a.jpg"), auto_orient=False)

    result = opened(ctx, out)
    assert result.size == (600, 400)  # pixels as stored
    assert dict(result.getexif()) == {ORIENTATION: 6}  # nothing else: no make, no GPS


def test_metadata_is_really_removed_by_default(ctx):
    source = Image.open(io.BytesIO(camera_jpeg()))
    assert source.getexif().get_ifd(GPS_IFD) and source.info.get("xmp") and source.info.get("comment")

    for fmt in ("jpeg", "png", "webp", "tiff"):
        out = enhance(ctx, put(ctx, camera_jpeg(), "guest.jpg"), format=fmt)

        result = opened(ctx, out)
        raw = ctx.artifacts.path(out).read_bytes()
        assert not result.getexif().get_ifd(GPS_IFD), fmt
        assert MAKE not in result.getexif() and "xmp" not in result.info and "comment" not in result.info, fmt
        assert b"Canon" not in raw and b"Ana Garcia" not in raw and b"xmpmeta" not in raw, fmt


def test_strip_location_keeps_the_camera_and_keep_keeps_everything(ctx):
    located = opened(ctx, enhance(ctx, put(ctx, camera_jpeg(), "a.jpg"), metadata="strip_location"))
    kept = opened(ctx, enhance(ctx, put(ctx, camera_jpeg(), "a.jpg"), metadata="keep"))

    assert located.getexif()[MAKE] == "Canon" and not located.getexif().get_ifd(GPS_IFD)
    assert "xmp" not in located.info
    assert kept.getexif()[MAKE] == "Canon" and kept.getexif().get_ifd(GPS_IFD)[1] == "N"
    assert "xmp" in kept.info


@pytest.mark.parametrize(("resize", "size"), [
    ({"mode": "fit", "width": 300, "height": 300}, (300, 200)),
    ({"mode": "fit", "width": 1200}, (600, 400)),  # no enlarging unless asked
    ({"mode": "fit", "width": 1200, "upscale": True}, (1200, 800)),
    ({"mode": "fill", "width": 200, "height": 200}, (200, 200)),
    ({"mode": "exact", "width": 123, "height": 77}, (123, 77)),
])
def test_resize_modes(ctx, resize, size):
    assert opened(ctx, enhance(ctx, put(ctx, COFFEE), resize=resize)).size == size


def test_crop_then_resize(ctx):
    out = enhance(ctx, put(ctx, COFFEE), crop={"x": 100, "y": 50, "width": 200, "height": 100},
                  resize={"mode": "fit", "width": 100})

    result = np.asarray(opened(ctx, out).convert("RGB"), dtype=int)
    expected = Image.open(COFFEE).convert("RGB").crop((100, 50, 300, 150)).resize((100, 50))
    expected = np.asarray(expected, dtype=int)
    assert result.shape == (50, 100, 3) and np.abs(result - expected).mean() < 3


def test_colour_tools_move_the_picture_the_right_way(ctx):
    cast = Image.open(COFFEE).convert("RGB")
    cast = Image.merge("RGB", [band.point(lambda v, g=g: int(v * g))
                               for band, g in zip(cast.split(), (0.7, 0.9, 1.2), strict=True)])
    ref = put(ctx, cast)

    def means(**config) -> np.ndarray:
        result = opened(ctx, enhance(ctx, ref, **config)).convert("RGB")
        return np.asarray(result, dtype=float).reshape(-1, 3).mean(0)

    plain = means()
    assert np.ptp(means(white_balance=True)) < 0.3 * np.ptp(plain)  # the blue cast is gone
    assert means(brightness=1.4).mean() > plain.mean() * 1.2
    grey = np.asarray(opened(ctx, enhance(ctx, ref, saturation=0.0)).convert("RGB"), dtype=int)
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 2
    low = put(ctx, Image.open(COFFEE).convert("RGB").point(lambda v: 100 + v // 4))
    stretched = np.asarray(opened(ctx, enhance(ctx, low, auto_contrast=True)).convert("L"))
    assert stretched.max() - stretched.min() > 200


def test_denoise_and_sharpen(ctx):
    rng = np.random.default_rng(1)
    clean = np.asarray(Image.open(COFFEE).convert("RGB").resize((200, 133)), dtype=int)
    noisy = np.clip(clean + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    ref = put(ctx, Image.fromarray(noisy))

    denoised = np.asarray(opened(ctx, enhance(ctx, ref, denoise="medium")), dtype=int)
    sharpened = np.asarray(opened(ctx, enhance(ctx, put(ctx, Image.fromarray(clean.astype(np.uint8))),
                                               sharpen=2.0)), dtype=int)

    assert np.abs(denoised - clean).mean() < 0.8 * np.abs(noisy.astype(int) - clean).mean()
    assert np.abs(np.diff(sharpened, axis=1)).mean() > np.abs(np.diff(clean, axis=1)).mean() * 1.1


def test_text_and_image_watermarks_land_in_their_corner(ctx):
    ref = put(ctx, COFFEE)
    original = np.asarray(Image.open(COFFEE).convert("RGB"), dtype=int)
    logo = Image.new("RGBA", (100, 50), (255, 0, 0, 255))

    for out in (enhance(ctx, ref, watermark={"text": "Hotel Sol", "opacity": 0.8}),
                enhance(ctx, ref, put(ctx, logo, "logo.png"),
                        watermark={"position": "top_left", "scale": 0.2})):
        changed = np.abs(np.asarray(opened(ctx, out).convert("RGB"), dtype=int) - original).sum(axis=2) > 30
        ys, xs = np.nonzero(changed)
        assert changed.sum() > 500
        assert (xs.min() > 300 and ys.min() > 250) or (xs.max() < 140 and ys.max() < 80)


def test_the_format_stays_as_it_came_also_for_greys_and_gif_becomes_png(ctx):
    grey = enhance(ctx, put(ctx, Image.open(COFFEE).convert("L"), "scan.jpg", format="JPEG"))
    gif = enhance(ctx, put(ctx, Image.open(COFFEE).convert("P"), "anim.gif", format="GIF"))

    assert (opened(ctx, grey).format, grey.name, opened(ctx, grey).size) == ("JPEG", "scan.jpg", (600, 400))
    assert (opened(ctx, gif).format, gif.name, gif.media_type) == ("PNG", "anim.png", "image/png")


def test_batch_gives_a_list_back_with_safe_names(ctx):
    refs = [put(ctx, COFFEE, "../../etc/Zimmer 12?.png"), put(ctx, camera_jpeg(), "con.jpg")]

    out = ImageEnhance().run(ctx, EnhanceConfig(batch=True, resize={"mode": "fit", "width": 100}),
                             EnhanceIn(images=refs))

    assert [r.name for r in out.images] == ["Zimmer 12-.png", "_con.jpg"]
    assert [opened(ctx, r).width for r in out.images] == [100, 100]
    assert [p.name for p in ImageEnhance.input_ports(EnhanceConfig(batch=True))] == ["images", "watermark"]
    assert [str(p.type) for p in ImageEnhance.output_ports(EnhanceConfig(batch=True))] == ["List[Image]"]


# --- image.convert -----------------------------------------------------------------------------------------


def convert(ctx: NodeContext, image: FileRef, **config):
    return ImageConvert().run(ctx, ConvertConfig(**config), ConvertIn(image=image))


@pytest.mark.parametrize(("fmt", "pil_format", "media_type", "name"), [
    ("jpeg", "JPEG", "image/jpeg", "photo.jpg"), ("png", "PNG", "image/png", "photo.png"),
    ("webp", "WEBP", "image/webp", "photo.webp"), ("tiff", "TIFF", "image/tiff", "photo.tif"),
])
def test_convert_formats(ctx, fmt, pil_format, media_type, name):
    out = convert(ctx, put(ctx, DOG, "photo.png"), format=fmt).image

    result = opened(ctx, out)
    assert (result.format, result.size, out.media_type, out.name) == (pil_format, (512, 512), media_type,
                                                                       name)
    original = np.asarray(Image.open(DOG).convert("RGB"), dtype=int)
    difference = np.abs(np.asarray(result.convert("RGB"), dtype=int) - original)
    assert difference.mean() < (0.01 if fmt in ("png", "tiff") else 4)


def test_quality_trades_size_for_fidelity_and_transparency_gets_the_background(ctx):
    ref = put(ctx, DOG)
    assert convert(ctx, ref, quality=30).image.size < 0.5 * convert(ctx, ref, quality=95).image.size

    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    out = convert(ctx, put(ctx, clear), format="jpeg", background="#ff0000").image
    assert np.abs(np.asarray(opened(ctx, out), dtype=int) - [255, 0, 0]).max() < 3


def test_pdf_one_page_per_picture(ctx):
    import pymupdf

    single = convert(ctx, put(ctx, COFFEE, "coffee.png"), format="pdf", pdf_dpi=100).document
    batch = ImageConvert().run(ctx, ConvertConfig(format="pdf", batch=True),
                               ConvertIn(images=[put(ctx, COFFEE), put(ctx, DOG),
                                                 put(ctx, camera_jpeg(), "c.jpg")]))

    with pymupdf.open(ctx.artifacts.path(single)) as pdf:
        assert (single.name, single.media_type, pdf.page_count) == ("coffee.pdf", "application/pdf", 1)
        assert (round(pdf[0].rect.width), round(pdf[0].rect.height)) == (432, 288)  # 600×400 px at 100 dpi
    with pymupdf.open(ctx.artifacts.path(batch.document)) as pdf:
        assert pdf.page_count == 3 and batch.document.name == "images.pdf"
    assert b"Canon" not in ctx.artifacts.path(batch.document).read_bytes()
    assert [p.name for p in ImageConvert.output_ports(ConvertConfig(format="pdf"))] == ["document"]


def test_convert_turns_pictures_upright_and_needs_its_input(ctx):
    out = convert(ctx, put(ctx, camera_jpeg(orientation=8), "a.jpg"), format="png").image
    assert opened(ctx, out).size == (400, 600) and not opened(ctx, out).getexif()

    with pytest.raises(NodeInputError) as caught:
        ImageConvert().run(ctx, ConvertConfig(batch=True), ConvertIn(images=[]))
    assert caught.value.port == "images" and "list of pictures is empty" in caught.value.message


# --- image.inpaint with a diffusion model (tiny, random, built offline here) -------------------------------


def build_tiny_pipeline(folder: Path) -> Path:
    """Save a Stable Diffusion inpainting pipeline with random weights (64×64) into `folder`, like a real one.

    The bench (bench/media_images.py) uses it too.
    """
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    words = folder / "words"
    words.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter], vocab[letter + "</w>"] = len(vocab), len(vocab) + 1
    (words / "vocab.json").write_text(json.dumps(vocab))
    (words / "merges.txt").write_text("#version: 0.2\n")
    # from_pretrained on a local folder: a hub id offline or CLIPTokenizer(vocab_file=...) give an EMPTY one.
    tokenizer = CLIPTokenizer.from_pretrained(str(words), model_max_length=16)
    assert len(tokenizer) == len(vocab) == 54

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=[32, 64], down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=8,
                        sample_size=64)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    pipe = StableDiffusionInpaintPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                          scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1),
                                          safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.save_pretrained(folder / "tiny-inpaint")
    return folder / "tiny-inpaint"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny pipeline in a models folder. Fails (not skips) without the media extra; `make test` has it."""
    import torch

    # One thread: a 64×64 model gains nothing from more, and on a busy machine they spin (5 s a run, not 0.4).
    torch.set_num_threads(1)
    started = time.perf_counter()
    path = build_tiny_pipeline(tmp_path_factory.mktemp("models"))
    print(f"tiny diffusion model built and saved in {time.perf_counter() - started:.1f} s")
    return path


def diffuse(ctx: NodeContext, image: FileRef, mask: FileRef | None = None, **config):
    settings = {"model": "tiny-inpaint", "steps": 2, "seed": 7, "device": "cpu", "prompt": "a bench",
                **config.pop("diffusion", {})}
    return inpaint(ctx, image, mask, engine="diffusion", diffusion=settings, **config)


def test_diffusion_repaints_only_the_masked_pixels(ctx, tiny_model):
    ctx.models_dir = tiny_model.parent
    photo = Image.open(DOG).convert("RGB").resize((64, 64))
    mask = Image.open(DOG_MASK).convert("L").resize((64, 64))

    out = diffuse(ctx, put(ctx, photo), put(ctx, mask, "mask.png"), diffusion={"padding_px": 0})

    before, after, marked = np.asarray(photo), pixels(ctx, out.image), np.asarray(mask) > 127
    assert np.array_equal(after[~marked], before[~marked])
    assert (np.abs(after[marked].astype(int) - before[marked]).sum(axis=1) > 0).mean() > 0.9
    assert out.info["device"] == "cpu" and out.info["seed"] == 7 and out.info["work_size"] == [64, 64]
    assert type(next(iter(ctx.models.values())).pipe).__name__ == "StableDiffusionInpaintPipeline"


def test_diffusion_on_a_larger_photo_works_on_a_crop_and_pastes_it_back(ctx, tiny_model, logs):
    ctx.models_dir = tiny_model.parent
    ref = put(ctx, Image.open(COFFEE).convert("RGB"))  # 600×400, far above the tiny model's 64×64
    region = [{"shape": "rectangle", "x": 340, "y": 100, "width": 40, "height": 120}]

    first = diffuse(ctx, ref, regions=region, diffusion={"padding_px": 20})
    again = diffuse(ctx, ref, regions=region, diffusion={"padding_px": 20})

    before, after = np.asarray(Image.open(COFFEE).convert("RGB")), pixels(ctx, first.image)
    changed = np.any(after != before, axis=2)
    assert after.shape == before.shape
    assert not changed[:100].any() and not changed[220:].any() and not changed[:, :340].any()
    assert not changed[:, 380:].any() and changed[100:220, 340:380].mean() > 0.9
    assert first.info["crop"] == [280, 80, 440, 240] and first.info["work_size"] == [64, 64]
    assert np.array_equal(pixels(ctx, again.image), after)  # same seed, same picture
    assert sum("Loaded the diffusion model" in message for _, message in logs) == 1  # then cached


def test_an_incomplete_model_folder_is_named(ctx, tiny_model, tmp_path):
    broken = tmp_path / "models" / "broken"
    shutil.copytree(tiny_model, broken, ignore=shutil.ignore_patterns("*.safetensors"))

    with pytest.raises(NodeError) as caught:
        diffuse(ctx, put(ctx, DOG), put(ctx, DOG_MASK, "mask.png"), diffusion={"model": "broken"})

    assert caught.value.code == "model_incomplete"
    assert "lacks unet weights, vae weights" in caught.value.message


def test_without_torch_the_diffusion_engine_says_to_install_the_extra(ctx, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # import torch now raises ImportError

    with pytest.raises(NodeError) as caught:
        diffuse(ctx, put(ctx, DOG), put(ctx, DOG_MASK, "mask.png"))

    assert caught.value.code == "engine_missing"
    assert "pip install 'minddocs[media]'" in caught.value.message and "OpenCV engine" in caught.value.message


def test_the_crop_stays_inside_the_photo():
    from nodes.media.inpaint_diffusion import crop_box

    mask = np.zeros((300, 500), dtype=bool)
    mask[5:20, 480:495] = True

    assert crop_box(mask, 50) == (385, 0, 500, 115)
    assert crop_box(np.ones((30, 40), dtype=bool), 10) == (0, 0, 40, 30)
