"""The OpenCV inpainting engine: fills a hole from its surroundings (Telea or Navier–Stokes), fast on CPUs."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field


class OpenCVSettings(BaseModel):
    method: Literal["telea", "navier_stokes"] = Field(
        "telea", description="Telea blends from the edge inwards; Navier–Stokes carries lines into the hole",
    )
    radius: int = Field(5, ge=1, le=50, description="How far around each filled pixel to look, in pixels")


def fill(pixels: np.ndarray, mask: np.ndarray, settings: OpenCVSettings) -> np.ndarray:
    """`pixels` (H×W×3, uint8) with the True pixels of `mask` (H×W) filled in; other pixels are unchanged."""
    import cv2

    flags = cv2.INPAINT_TELEA if settings.method == "telea" else cv2.INPAINT_NS
    # cv2.inpaint treats the channels alike, so RGB needs no swap to BGR.
    filled = cv2.inpaint(np.ascontiguousarray(pixels), mask.astype(np.uint8) * 255, settings.radius, flags)
    return np.where(mask[..., None], filled, pixels)
