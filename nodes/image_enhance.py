"""image.enhance: the usual clean-up of a photo before it is published (orientation, colour, size, watermark,
privacy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from .base import NodeContext, NodeError, NodeType, Port
from .files import check_image_pixels, open_image, safe_file_name, sniff
from .image_convert import (
    EXTENSIONS,
    MEDIA_TYPES,
    METADATA_HELP,
    Colour,
    EncodeOptions,
    ImageList,
    Metadata,
    OptionalImage,
    batch_inputs,
    encode,
    exif_to_keep,
)
from .ports import IMAGE, list_of
from .registry import register

Position = Literal["top_left", "top", "top_right", "left", "center", "right",
                   "bottom_left", "bottom", "bottom_right"]
DENOISE_STRENGTH = {"light": 5, "medium": 8, "strong": 12}  # OpenCV non-local means `h`
SAME_FORMAT = {"jpeg": "jpeg", "png": "png", "webp": "webp", "tiff": "tiff"}  # GIF and BMP come out as PNG


class Crop(BaseModel):
    x: int = Field(ge=0, description="Left edge in pixels (of the upright photo when auto-orient is on)")
    y: int = Field(ge=0, description="Top edge in pixels")
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Resize(BaseModel):
    mode: Literal["none", "fit", "fill", "exact"] = Field(
        "none",
        description="fit: inside the box, shape kept; fill: covers the box, edges cut; exact: stretched")
    width: int | None = Field(None, ge=1, le=30_000)
    height: int | None = Field(None, ge=1, le=30_000)
    upscale: bool = Field(False, description="fit: also enlarge pictures smaller than the box")

    @model_validator(mode="after")
    def _sizes(self) -> Resize:
        if self.mode in ("fill", "exact") and not (self.width and self.height):
            raise ValueError(f"resize '{self.mode}' needs both a width and a height")
        if self.mode == "fit" and not (self.width or self.height):
            raise ValueError("resize 'fit' needs a width, a height or both")
        return self


class Watermark(BaseModel):
    text: str = Field("", max_length=200, description="Text to stamp; a watermark image input wins over it")
    position: Position = "bottom_right"
    opacity: float = Field(0.5, ge=0, le=1)
    scale: float = Field(0.25, gt=0, le=1, description="Width of the watermark as a share of the picture's")
    colour: Colour = Field("#ffffff", description="Text colour")


class EnhanceConfig(BaseModel):
    auto_orient: bool = Field(True, description="Turn the photo upright as the camera recorded (EXIF)")
    crop: Crop | None = None
    white_balance: bool = Field(False, description="Remove a colour cast (grey-world balance)")
    auto_contrast: bool = Field(False, description="Stretch the tones to use the full range")
    denoise: Literal["off", "light", "medium", "strong"] = Field("off", description="Smooth noise (slow)")
    brightness: float = Field(1.0, ge=0, le=3, description="1 = unchanged")
    contrast: float = Field(1.0, ge=0, le=3, description="1 = unchanged")
    saturation: float = Field(1.0, ge=0, le=3, description="1 = unchanged, 0 = black and white")
    sharpen: float = Field(0.0, ge=0, le=3, description="0 = off, 1 = a clear boost (applied after resizing)")
    resize: Resize = Resize()
    watermark: Watermark = Watermark()
    metadata: Metadata = Field("strip_all", description=METADATA_HELP)
    format: Literal["same", "jpeg", "png", "webp", "tiff"] = Field("same", description="same: as it came")
    quality: int = Field(90, ge=1, le=100, description="JPEG and WebP quality")
    batch: bool = Field(False, description="Take a list of pictures and give a list back")


class EnhanceIn(BaseModel):
    image: OptionalImage = None
    images: ImageList = Field(default_factory=list)
    watermark: OptionalImage = Field(None, description="A logo to stamp (PNG with transparency works best)")


class EnhanceOut(BaseModel):
    image: OptionalImage = None
    images: ImageList = Field(default_factory=list)


@register
class ImageEnhance(NodeType[EnhanceConfig, EnhanceIn, EnhanceOut]):
    """Clean up photos: upright, colour, noise, sharpness, size, crop, watermark and metadata (GPS) removal.

    Steps run in this order: orient, crop, white balance, auto contrast, denoise, brightness / contrast /
    saturation, resize, sharpen, watermark. Metadata: strip_all by default (GPS positions of guests never
    leave); the colour profile is always kept. With `batch`, a list in gives a list out.
    """

    type_id = "image.enhance"
    display_name = "Enhance image"
    category = "image"
    queue = "media"

    @classmethod
    def input_ports(cls, config: EnhanceConfig) -> list[Port]:
        main = Port("images", list_of(IMAGE), True) if config.batch else Port("image", IMAGE, True)
        return [main, Port("watermark", IMAGE, False, "A logo to stamp on each picture")]

    @classmethod
    def output_ports(cls, config: EnhanceConfig) -> list[Port]:
        return [Port("images", list_of(IMAGE)) if config.batch else Port("image", IMAGE)]

    def run(self, ctx: NodeContext, config: EnhanceConfig, inputs: EnhanceIn) -> EnhanceOut:
        refs = batch_inputs(config.batch, inputs)
        logo = None
        if inputs.watermark is not None:
            logo = open_image(ctx.artifacts.path(inputs.watermark), "watermark", ctx.limits, "the watermark",
                              colour=True).convert("RGBA")
        port = "images" if config.batch else "image"
        results = []
        for ref in refs:
            path = ctx.artifacts.path(ref)
            image = open_image(path, port, ctx.limits, self.display_name, colour=True,
                               upright=config.auto_orient)
            fmt = SAME_FORMAT.get(sniff(path), "png") if config.format == "same" else config.format
            source_info, exif = image.info, exif_to_keep(image, config.metadata)
            image = self._adjust(ctx, config, image, port, logo)
            data = encode(image, fmt, EncodeOptions(quality=config.quality), exif=exif,
                          source_info=source_info, metadata=config.metadata)
            name = safe_file_name(Path(ref.name).stem, EXTENSIONS[fmt], fallback="image")
            results.append(ctx.artifacts.put_bytes(data, name=name, media_type=MEDIA_TYPES[fmt]))
        return EnhanceOut(images=results) if config.batch else EnhanceOut(image=results[0])

    def _adjust(self, ctx: NodeContext, config: EnhanceConfig, image: Any, port: str, logo: Any) -> Any:
        from PIL import ImageEnhance, ImageFilter, ImageOps

        if config.crop:
            c = config.crop
            if c.x >= image.width or c.y >= image.height:
                raise NodeError(f"The crop starts at {c.x},{c.y}, outside the {image.width}×{image.height} "
                                "picture.", port=port, code="bad_config")
            image = image.crop((c.x, c.y, min(c.x + c.width, image.width), min(c.y + c.height, image.height)))
        if config.white_balance:
            image = _on_colour(image, _grey_world)
        if config.auto_contrast:
            image = _on_colour(image, lambda rgb: ImageOps.autocontrast(rgb, cutoff=0.5, preserve_tone=True))
        if config.denoise != "off":
            image = _on_colour(image, lambda rgb: _denoise(rgb, DENOISE_STRENGTH[config.denoise]))
        tools = ((config.brightness, ImageEnhance.Brightness), (config.contrast, ImageEnhance.Contrast),
                 (config.saturation, ImageEnhance.Color))
        for factor, tool in tools:
            if factor != 1.0:
                image = _on_colour(image, lambda rgb, t=tool, f=factor: t(rgb).enhance(f))
        image = _resize(ctx, image, config.resize, port)
        if config.sharpen:
            sharpen = ImageFilter.UnsharpMask(radius=2, percent=int(120 * config.sharpen), threshold=2)
            image = _on_colour(image, lambda rgb: rgb.filter(sharpen))
        if logo is not None or config.watermark.text.strip():
            image = _stamp(image, config.watermark, logo)
        return image


def _on_colour(image: Any, operation: Any) -> Any:
    """Apply `operation` to the RGB bands only: transparency is never brightened, sharpened or balanced."""
    if image.mode != "RGBA":
        return operation(image)
    result = operation(image.convert("RGB")).convert("RGBA")
    result.putalpha(image.getchannel("A"))
    return result


def _grey_world(rgb: Any) -> Any:
    means = np.asarray(rgb, dtype=np.float32).reshape(-1, 3).mean(axis=0)
    gains = np.clip(means.mean() / np.maximum(means, 1.0), 0.5, 2.0)  # bounded: a red sunset stays warm-ish
    table = [min(255, round(float(v * g))) for g in gains for v in range(256)]
    return rgb.point(table)


def _denoise(rgb: Any, strength: int) -> Any:
    import cv2
    from PIL import Image

    return Image.fromarray(cv2.fastNlMeansDenoisingColored(np.asarray(rgb), None, strength, strength, 7, 21))


def _resize(ctx: NodeContext, image: Any, resize: Resize, port: str) -> Any:
    from PIL import Image, ImageOps

    if resize.mode == "none":
        return image
    width, height = image.size
    box = (resize.width or round(width * resize.height / height),
           resize.height or round(height * resize.width / width))
    check_image_pixels(*box, port, ctx.limits)
    if resize.mode == "fit":
        if not resize.upscale and width <= box[0] and height <= box[1]:
            return image
        return ImageOps.contain(image, box, Image.Resampling.LANCZOS)
    if resize.mode == "fill":
        return ImageOps.fit(image, box, Image.Resampling.LANCZOS)
    return image.resize(box, Image.Resampling.LANCZOS)


def _stamp(image: Any, mark: Watermark, logo: Any) -> Any:
    from PIL import Image, ImageColor, ImageDraw, ImageFont

    width = max(1, round(image.width * mark.scale))
    if logo is not None:
        height = max(1, round(logo.height * width / logo.width))
        stamp = logo.resize((width, height), Image.Resampling.LANCZOS)
    else:
        probe = ImageFont.load_default(size=100)
        size = max(6, int(100 * width / max(1.0, probe.getlength(mark.text.strip()))))
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = font.getbbox(mark.text.strip(), stroke_width=max(1, size // 25))
        stamp = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
        ImageDraw.Draw(stamp).text((-left, -top), mark.text.strip(), font=font,
                                   fill=ImageColor.getrgb(mark.colour)[:3] + (255,),
                                   stroke_width=max(1, size // 25), stroke_fill=(0, 0, 0, 160))
    stamp.putalpha(stamp.getchannel("A").point(lambda a: round(a * mark.opacity)))
    margin = round(min(image.size) * 0.03)
    row, _, col = mark.position.partition("_") if "_" in mark.position else (mark.position, "", mark.position)
    free_x, free_y = image.width - stamp.width, image.height - stamp.height
    x = {"left": margin, "right": free_x - margin}.get(col, free_x // 2)
    y = {"top": margin, "bottom": free_y - margin}.get(row, free_y // 2)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(stamp, (x, y))
    stamped = Image.alpha_composite(image.convert("RGBA"), layer)
    return stamped if image.mode == "RGBA" else stamped.convert("RGB")
