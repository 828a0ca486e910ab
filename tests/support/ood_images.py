"""The project's set of images that are not kidney CT slices, and what a model does with
them (``refusal_rates``; bench/ood_images.py prints it as JSON).

The set (``non_ct_images()``) is made here, deterministically: real photographs
and scans shipped with scikit-image (colour and grey photos, text pages,
microscopy, a retina, textures, a CT phantom of a head), each also mirrored,
cropped and turned to grey; rendered text; blank and noise frames; colour
drawings; and synthetic chest radiographs (bright body, dark lungs, ribs). The
real CT side is the held-out block of the sample (files 321-400 per class).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SKIMAGE_IMAGES = [
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "coins",
    "moon",
    "page",
    "text",
    "rocket",
    "horse",
    "clock",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "grass",
    "gravel",
    "brick",
    "checkerboard",
    "logo",
    "cell",
    "microaneurysms",
    "colorwheel",
    "shepp_logan_phantom",
    "cat",
    "binary_blobs",
]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _to_image(array: np.ndarray) -> Image.Image:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = np.clip(array * (255 if array.max() <= 1 else 1), 0, 255).astype(np.uint8)
    image = Image.fromarray(array)
    return image.convert("RGBA").convert("RGB") if image.mode in ("RGBA", "P", "LA") else image


def photographs() -> list[tuple[str, bytes]]:
    import skimage.data

    out = []
    for name in SKIMAGE_IMAGES:
        image = _to_image(getattr(skimage.data, name)())
        width, height = image.size
        variants = {
            "": image,
            "-mirror": image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            "-crop": image.crop((width // 4, height // 4, 3 * width // 4, 3 * height // 4)),
            "-grey": image.convert("L"),
        }
        out += [(f"photo-{name}{suffix}", _png(v)) for suffix, v in variants.items()]
    return out


def text_pages(rng: np.random.Generator, n: int = 30) -> list[tuple[str, bytes]]:
    words = [
        "kidney",
        "report",
        "patient",
        "slice",
        "normal",
        "finding",
        "contrast",
        "axial",
        "renal",
        "cortex",
    ]
    out = []
    for i in range(n):
        dark_page = i % 3 == 0
        image = Image.new("L", (256, 256), 0 if dark_page else 255)
        draw = ImageDraw.Draw(image)
        for line in range(int(rng.integers(4, 18))):
            text = " ".join(rng.choice(words, size=int(rng.integers(2, 6))))
            draw.text((8, 8 + 14 * line), text, fill=255 if dark_page else 0)
        out.append((f"text-{i}", _png(image)))
    return out


def blank_frames(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    out = [(f"blank-{v}", _png(Image.new("L", (256, 256), v))) for v in (0, 40, 128, 200, 255)]
    for i in range(5):
        noise = rng.integers(0, 256, (256, 256), dtype=np.uint8)
        out.append((f"noise-{i}", _png(Image.fromarray(noise))))
    return out


def colour_drawings(rng: np.random.Generator, n: int = 30) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        image = Image.new("RGB", (256, 256), tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 12))):
            box = sorted(rng.integers(0, 256, 2)), sorted(rng.integers(0, 256, 2))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape((box[0][0], box[1][0], box[0][1], box[1][1]), fill=colour)
        out.append((f"drawing-{i}", _png(image)))
    return out


def chest_radiographs(rng: np.random.Generator, n: int = 30) -> list[tuple[str, bytes]]:
    """Frontal chest X-ray look: grey frame, bright torso, two dark lungs, ribs, spine."""
    out = []
    for i in range(n):
        background = int(rng.integers(10, 90))
        image = Image.new("L", (256, 256), background)
        draw = ImageDraw.Draw(image)
        draw.rectangle((20, 10, 236, 256), fill=int(rng.integers(150, 210)))
        for side in (0, 1):
            left = 40 + side * 98 + int(rng.integers(-6, 6))
            draw.ellipse((left, 40, left + 78, 215), fill=int(rng.integers(40, 90)))
        for rib in range(8):
            y = 50 + rib * 20
            draw.arc((30, y, 226, y + 60), 200, 340, fill=int(rng.integers(170, 230)), width=4)
        draw.rectangle((120, 10, 136, 256), fill=int(rng.integers(190, 240)))
        blurred = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(1, 3))))
        out.append((f"radiograph-{i}", _png(blurred)))
    return out


def non_ct_images(seed: int = 7) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    return (
        photographs()
        + text_pages(rng)
        + blank_frames(rng)
        + colour_drawings(rng)
        + chest_radiographs(rng)
    )


def refusal_rates(classifier, sample_dir: Path) -> dict:
    """Share of non-CT images refused and of held-out real CT slices refused."""
    from mlcore import data, splits

    non_ct = non_ct_images()
    refused_non_ct = [
        p.out_of_distribution for p in classifier.classify_batch([d for _, d in non_ct])
    ]
    items = data.list_images(data.find_dataset_root(sample_dir), classifier.class_names)
    held_out = splits.split_by_number(items, 0.2, num_classes=len(classifier.class_names))
    ct_files = [item.path.read_bytes() for item in held_out.validation]
    refused_ct = [p.out_of_distribution for p in classifier.classify_batch(ct_files)]
    by_kind: dict[str, list[bool]] = {}
    for (name, _), refused in zip(non_ct, refused_non_ct, strict=True):
        by_kind.setdefault(name.split("-")[0], []).append(refused)
    return {
        "model_version": classifier.version,
        "non_ct_images": len(non_ct),
        "non_ct_refused": round(float(np.mean(refused_non_ct)), 4),
        "non_ct_refused_by_kind": {k: round(float(np.mean(v)), 3) for k, v in by_kind.items()},
        "non_ct_accepted": [n for (n, _), r in zip(non_ct, refused_non_ct, strict=True) if not r],
        "ct_images": len(ct_files),
        "ct_refused": round(float(np.mean(refused_ct)), 4),
    }
