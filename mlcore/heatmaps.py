"""Heatmaps as images the browser lays over the slice (no TensorFlow needed here)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def overlay_png(heat: np.ndarray) -> bytes:
    """A [0, 1] heatmap as an RGBA PNG: red and opaque where the model looked, yellow and
    transparent where it did not."""
    alpha = np.clip(np.asarray(heat, dtype=np.float64), 0.0, 1.0)
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = np.round(200 * (1 - alpha)).astype(np.uint8)
    rgba[..., 3] = np.round(255 * alpha).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()
