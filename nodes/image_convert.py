"""image.convert: save pictures as JPEG, PNG, WebP, TIFF or PDF, with quality and metadata settings.

It also owns encoding for the other image nodes (`encode`, `exif_to_keep`), so every image MindDocs writes
follows the same metadata rules.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from .base import NodeContext, NodeInputError, NodeType, Port
from .files import EXIF_ERRORS, PYMUPDF_LOCK, open_image, safe_file_name
from .ports import DOCUMENT, IMAGE, FileRef, list_of
from .registry import register

Format = Literal["jpeg", "png", "webp", "tiff", "pdf"]
Metadata = Literal["strip_all", "strip_location", "keep"]
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff",
               "pdf": "application/pdf"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "tiff": "tif", "pdf": "pdf"}
GPS_IFD, ORIENTATION = 0x8825, 0x0112
METADATA_HELP = ("strip_all: no camera data, GPS, author or comments (colour profile kept); strip_location: "
                 "only GPS and XMP removed; keep: all EXIF and XMP kept")
OptionalImage = Annotated[FileRef | None, IMAGE]
ImageList = Annotated[list[FileRef], list_of(IMAGE)]


def _colour(value: str) -> str:
    from PIL import ImageColor

    try:
        ImageColor.getrgb(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a colour; write it like #ffffff or white") from None
    return value


Colour = Annotated[str, AfterValidator(_colour)]


class EncodeOptions(BaseModel):
    quality: int = Field(85, ge=1, le=100, description="JPEG, WebP and PDF: higher is sharper and bigger")
    lossless: bool = Field(False, description="WebP: keep every pixel exactly (bigger files)")
    background: Colour = Field("#ffffff", description="Colour under transparent areas in JPEG and PDF")
    pdf_dpi: int = Field(300, ge=36, le=1200, description="PDF: pixels per inch, which sets the page size")


def exif_to_keep(image: Any, metadata: Metadata) -> bytes | None:
    """The EXIF block to write for `image` under the `metadata` rule (None: none at all).

    An orientation other than upright always survives, so that stripping never turns a photo on its side.
    """
    from PIL import Image

    try:
        exif = image.getexif()
    except EXIF_ERRORS:  # a damaged EXIF block: nothing in it can be kept
        return None
    if metadata == "strip_all":
        if exif.get(ORIENTATION, 1) == 1:
            return None
        upright_only = Image.Exif()
        upright_only[ORIENTATION] = exif[ORIENTATION]
        return upright_only.tobytes()
    if metadata == "strip_location" and GPS_IFD in exif:
        del exif[GPS_IFD]
    return exif.tobytes() if len(exif) else None


def encode(image: Any, fmt: str, options: EncodeOptions, *, exif: bytes | None, source_info: dict[str, Any],
           metadata: Metadata) -> bytes:
    """`image` (PIL, RGB or RGBA) as a JPEG, PNG, WebP or TIFF file, with only the metadata asked for.

    Clears `image.info`, so that nothing else (comments, PNG text, stale EXIF) rides along.
    """
    extra: dict[str, Any] = {}
    if source_info.get("icc_profile"):
        extra["icc_profile"] = source_info["icc_profile"]  # colours, not personal data: always kept
    if exif:
        extra["exif"] = exif
    if metadata == "keep" and source_info.get("xmp") and fmt in ("jpeg", "webp"):
        extra["xmp"] = source_info["xmp"]
    if fmt == "jpeg" and image.mode == "RGBA":
        image = flatten(image, options.background)
    image.info = {}
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=options.quality, optimize=True, progressive=True,
                   subsampling=0 if options.quality >= 90 else 2, **extra)
    elif fmt == "png":
        image.save(out, "PNG", compress_level=6, **extra)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=options.quality, lossless=options.lossless, method=4, **extra)
    elif fmt == "tiff":
        image.save(out, "TIFF", compression="tiff_adobe_deflate", **extra)
    else:
        raise ValueError(f"no encoder for {fmt}")
    return out.getvalue()


def flatten(image: Any, background: str) -> Any:
    from PIL import Image

    if image.mode != "RGBA":
        return image.convert("RGB")
    base = Image.new("RGB", image.size, background)
    base.paste(image, mask=image.getchannel("A"))
    return base


class ConvertConfig(EncodeOptions):
    format: Format = Field("jpeg", description="File format to write; PDF makes one page per picture")
    metadata: Metadata = Field("strip_all", description=METADATA_HELP)
    batch: bool = Field(False, description="Take a list of pictures and give a list back (PDF: one file)")


class ConvertIn(BaseModel):
    image: OptionalImage = None
    images: ImageList = Field(default_factory=list)


class ConvertOut(BaseModel):
    image: OptionalImage = None
    images: ImageList = Field(default_factory=list)
    document: Annotated[FileRef | None, DOCUMENT] = None


@register
class ImageConvert(NodeType[ConvertConfig, ConvertIn, ConvertOut]):
    """Save pictures as JPEG, PNG, WebP, TIFF or PDF.

    Pictures are turned upright from their EXIF orientation. With `batch`, the node takes a list of
    pictures and gives a list back; a PDF from a list is one document with a page per picture.
    """

    type_id = "image.convert"
    display_name = "Convert image"
    category = "image"
    queue = "media"

    @classmethod
    def input_ports(cls, config: ConvertConfig) -> list[Port]:
        if config.batch:
            return [Port("images", list_of(IMAGE), True, "The pictures to convert")]
        return [Port("image", IMAGE, True, "The picture to convert")]

    @classmethod
    def output_ports(cls, config: ConvertConfig) -> list[Port]:
        if config.format == "pdf":
            return [Port("document", DOCUMENT, True, "The PDF")]
        return [Port("images", list_of(IMAGE)) if config.batch else Port("image", IMAGE)]

    def run(self, ctx: NodeContext, config: ConvertConfig, inputs: ConvertIn) -> ConvertOut:
        refs = batch_inputs(config.batch, inputs)
        if config.format == "pdf":
            return ConvertOut(document=self._pdf(ctx, config, refs))
        results = []
        for ref in refs:
            image = upright(ctx, ref, "images" if config.batch else "image", self.display_name)
            data = encode(image, config.format, config, exif=exif_to_keep(image, config.metadata),
                          source_info=image.info, metadata=config.metadata)
            name = safe_file_name(Path(ref.name).stem, EXTENSIONS[config.format], fallback="image")
            results.append(ctx.artifacts.put_bytes(data, name=name, media_type=MEDIA_TYPES[config.format]))
        return ConvertOut(images=results) if config.batch else ConvertOut(image=results[0])

    def _pdf(self, ctx: NodeContext, config: ConvertConfig, refs: list[FileRef]) -> FileRef:
        import pymupdf

        pages = []  # encoded outside the lock: only the PDF assembly needs PyMuPDF
        for ref in refs:
            image = flatten(upright(ctx, ref, "images" if config.batch else "image", self.display_name),
                            config.background)
            jpeg = encode(image, "jpeg", config, exif=None, source_info={}, metadata="strip_all")
            pages.append((jpeg, image.width * 72 / config.pdf_dpi, image.height * 72 / config.pdf_dpi))
        with PYMUPDF_LOCK, pymupdf.open() as pdf:
            for jpeg, width, height in pages:
                page = pdf.new_page(width=width, height=height)
                page.insert_image(page.rect, stream=jpeg)
            pdf.set_metadata({"producer": "MindDocs", "creator": "MindDocs"})
            data = pdf.tobytes(garbage=3, deflate=True)
        stem = Path(refs[0].name).stem if len(refs) == 1 else "images"
        name = safe_file_name(stem, "pdf", fallback="images")
        return ctx.artifacts.put_bytes(data, name=name, media_type=MEDIA_TYPES["pdf"])


def batch_inputs(batch: bool, inputs: Any) -> list[FileRef]:
    """The pictures to work on: the list in batch mode, else the single picture."""
    if batch:
        if not inputs.images:
            raise NodeInputError("images", "The list of pictures is empty; connect a node that gives some.")
        return list(inputs.images)
    if inputs.image is None:
        raise NodeInputError("image", "No picture arrived; connect one (or turn on batch for a list).")
    return [inputs.image]


def upright(ctx: NodeContext, ref: FileRef, port: str, what: str) -> Any:
    """The picture of `ref`, decoded, checked against the limits, in RGB(A) and turned upright."""
    return open_image(ctx.artifacts.path(ref), port, ctx.limits, what, colour=True, upright=True)
