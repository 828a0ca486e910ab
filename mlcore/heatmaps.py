"""Heatmaps as images the browser lays over the slice (no TensorFlow needed here).

The overlay is meant to be read at full opacity: its transparency follows the heat,
so the slice shows through untouched where the model hardly looked (a Grad-CAM map
upsampled from 8x8 is warm over much of the slice: on twelve real slices 8 to 62 % of
its pixels are above a fifth of the peak, and an alpha equal to the heat tinted all of
them). Opacity and colour both change with the heat, so the scale reads even without
telling hues apart: from transparent, through a faint yellow and orange, to a nearly
opaque red at the peak.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Heat (a share of the slice's peak) below which the overlay is fully transparent.
TRANSPARENT_BELOW = 0.2
# The alpha at the peak: the anatomy under the hottest spot stays faintly visible.
PEAK_ALPHA = 0.85
# Above the floor alpha grows as the 1.5th power, so a lukewarm area stays faint.
ALPHA_POWER = 1.5
# Green at the floor (yellow) falling to 0 at the peak (red); red is always full.
GREEN_AT_FLOOR = 220


def overlay_rgba(heat: np.ndarray) -> np.ndarray:
    """A [0, 1] heatmap as (..., 4) uint8 RGBA: transparent where the heat is below
    ``TRANSPARENT_BELOW``, then yellow turning red and more opaque as it rises."""
    rise = np.clip(
        (np.asarray(heat, dtype=np.float64) - TRANSPARENT_BELOW) / (1 - TRANSPARENT_BELOW),
        0.0,
        1.0,
    )
    rgba = np.zeros((*rise.shape, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = np.round(GREEN_AT_FLOOR * (1 - rise)).astype(np.uint8)
    rgba[..., 3] = np.round(255 * PEAK_ALPHA * rise**ALPHA_POWER).astype(np.uint8)
    return rgba


def overlay_png(heat: np.ndarray) -> bytes:
    """A [0, 1] heatmap as the RGBA PNG laid over the slice (see ``overlay_rgba``)."""
    buffer = io.BytesIO()
    Image.fromarray(overlay_rgba(heat), "RGBA").save(buffer, "PNG")
    return buffer.getvalue()
