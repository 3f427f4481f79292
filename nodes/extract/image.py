"""Pictures of text (PNG, JPEG, TIFF with several pages, GIF, BMP, WebP): read with OCR, a page per frame."""

from __future__ import annotations

from pathlib import Path

from ..base import NodeError, NodeInputError
from ..files import check_image_pixels, open_image
from .result import Extracted, ExtractOptions, select_pages

PORT = "document"


def extract_image(path: Path, options: ExtractOptions) -> Extracted:
    from PIL import Image, ImageOps

    # open_image checks the kind, the pixel limit on the header (a decompression bomb is never decoded)
    # and damage, and gives the first frame.
    first = open_image(path, PORT, options.limits, "Extract text")
    if options.ocr == "never":
        raise NodeError("This file is a picture: its text can only be read with OCR, which the 'OCR' setting "
                        "turns off. Set it to 'auto'.", code="bad_config")
    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        chosen = select_pages(options.pages, frames, options.limits)
        engine = options.ocr_engine()
        pages = []
        for index in chosen:
            frame = first if index == 0 else _frame(image, index, options)
            pages.append(engine.read(ImageOps.exif_transpose(frame)))
        read = [i + 1 for i in chosen]
        metadata = {"format": image.format, "width": first.width, "height": first.height, "frames": frames,
                    "pages_read": read, "ocr_pages": read}
    return Extracted(pages, list(pages), metadata=metadata)


def _frame(image, index: int, options: ExtractOptions):
    """Frame `index` of a multi-page file, checked against the pixel limit before it is decoded."""
    try:
        image.seek(index)
        check_image_pixels(*image.size, PORT, options.limits)
        frame = image.copy()
    except NodeInputError:
        raise
    except (OSError, EOFError, ValueError, SyntaxError) as exc:
        raise NodeInputError(PORT, f"Page {index + 1} of the image is damaged or cut short ({exc}); export "
                             "or upload it again.") from None
    return frame
