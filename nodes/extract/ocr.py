"""OCR engines behind one interface: RapidOCR (the default) and Tesseract.

RapidOCR 3 runs PaddleOCR's PP-OCRv6 models on onnxruntime. It is the default because its models ship
inside the wheel (a pip install is all it needs; nothing is downloaded at run time), it reads Latin-script
languages with their accents out of the box, and it was the more accurate on real scans: CER 0.5 % against
Tesseract's 1.0 % on the first sentence of scan_wikipedia_ocr_page.pdf (0.35 % against 0 % on the clean
scan_phototest.tif). Only its default models work offline: any other model or language option makes it
try to download. Tesseract (Debian `tesseract-ocr`, driven by pytesseract) reads the languages whose
Debian packages are installed (Spanish: `tesseract-ocr-spa`).

An engine is loaded once per worker process and kept in `ctx.models`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from ..base import NodeError
from .layout import reading_order
from .result import join_lines

if TYPE_CHECKING:
    from PIL.Image import Image

_LOADING = threading.Lock()
UNAVAILABLE = "ocr_unavailable"


class OcrEngine(Protocol):
    name: str
    dpi: int  # resolution at which PDF pages are rendered for this engine

    def read(self, image: Image) -> str:
        """The text of the picture in reading order, paragraphs separated by a blank line."""
        ...


class RapidOcr:
    name = "rapidocr"
    dpi = 200  # it scales pages to 2000 px on the long side anyway; 300 dpi only costs time

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        # Without dilation the detector no longer fuses two close lines (one with a superscript) into one
        # box that reads as gibberish: seen on scan_wikipedia_ocr_page.pdf.
        self._engine = RapidOCR(params={"Global.log_level": "error", "Det.use_dilation": False})
        self._lock = threading.Lock()  # one page at a time: onnxruntime already uses every core

    def read(self, image: Image) -> str:
        image = even_out_lighting(image)
        with self._lock:
            result = self._engine(image.convert("RGB"))
        if result.boxes is None or not result.txts:
            return ""
        boxes = [(float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 0].max()), float(b[:, 1].max()))
                 for b in result.boxes]
        return lines_to_text(boxes, list(result.txts))


class Tesseract:
    name = "tesseract"
    dpi = 300  # Tesseract is trained on ~300 dpi text

    def __init__(self, languages: str) -> None:
        import pytesseract

        self._tesseract = pytesseract
        try:
            installed = set(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, OSError):
            raise NodeError("Tesseract is not installed on this worker. Install the Debian package "
                            "'tesseract-ocr', or choose the RapidOCR engine.", code=UNAVAILABLE) from None
        missing = [lang for lang in languages.split("+") if lang not in installed]
        if missing:
            have = ", ".join(sorted(installed - {"osd"})) or "none"
            raise NodeError(f"Tesseract has no language pack for {', '.join(missing)} on this worker (it "
                            f"has: {have}). Install e.g. the Debian package 'tesseract-ocr-{missing[0]}', or "
                            "change 'OCR languages'.", code=UNAVAILABLE)
        self.languages = languages

    def read(self, image: Image) -> str:
        raw = self._tesseract.image_to_string(even_out_lighting(image), lang=self.languages, config="--psm 3")
        paragraphs = [join_lines(block.splitlines()) for block in raw.replace("\f", "").split("\n\n")]
        return "\n\n".join(p for p in paragraphs if p)


def even_out_lighting(image: Image) -> Image:
    """A photographed page lit unevenly, divided by its local brightness; any other picture as it is.

    On scan_photographed_page.png this takes RapidOCR from 36 % to 0 % CER (Tesseract from garbled to
    exact). A clean scan or a rendered PDF page has even paper and is left alone. Debt: light text on a dark
    band in an unevenly lit photo would be washed out; no such sample yet.
    """
    import cv2
    import numpy as np
    from PIL import Image as PILImage

    grey = np.asarray(image.convert("L"))
    scale = 256 / max(grey.shape)
    thumb = cv2.resize(grey, (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    # The paper's brightness: text removed by a max filter, so that dense print does not count as shade.
    low, high = np.percentile(cv2.dilate(thumb, np.ones((5, 5), np.uint8)), [5, 95])
    if high - low <= 0.2 * high:
        return image
    light = cv2.resize(cv2.GaussianBlur(thumb, (0, 0), sigmaX=10), (grey.shape[1], grey.shape[0]),
                       interpolation=cv2.INTER_LINEAR)
    return PILImage.fromarray(np.clip(grey / np.maximum(light, 1) * 255, 0, 255).astype(np.uint8))


def lines_to_text(boxes: list[tuple[float, float, float, float]], texts: list[str]) -> str:
    """OCR'd lines in reading order, joined into paragraphs where the gap between lines is small."""
    heights = sorted(b[3] - b[1] for b in boxes)
    line_height = heights[len(heights) // 2] or 1.0
    paragraphs: list[list[str]] = []
    previous = None
    for i in reading_order(boxes, min_gutter=line_height):
        box = boxes[i]
        overlap = min(box[3], previous[3]) - max(box[1], previous[1]) if previous else 0.0
        same_line = overlap > 0.5 * line_height
        new = previous is None or (not same_line and (
            box[1] - previous[3] > 0.6 * line_height or box[1] < previous[1] or box[0] > previous[2]))
        if new:  # a wide gap, or the top of the next column
            paragraphs.append([])
        paragraphs[-1].append(texts[i])
        previous = box
    return "\n\n".join(join_lines(p) for p in paragraphs)


def get_engine(models: dict[str, Any], name: str, languages: str) -> OcrEngine:
    """The engine from the worker's model cache, loaded on first use."""
    key = f"ocr.{name}" if name == "rapidocr" else f"ocr.{name}.{languages}"
    with _LOADING:  # two node threads must not load the same models twice
        engine = models.get(key)
        if engine is None:
            engine = models[key] = RapidOcr() if name == "rapidocr" else Tesseract(languages)
    return engine
