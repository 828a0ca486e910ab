"""Model versions on disk: ``models/<version>/{model.keras, model.tflite, metadata.json}``.

A version folder is written once and never changed; ``models/ACTIVE`` names the
version the application serves.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np

from mlcore.runtime import KERAS_FILE, LITERT_FILE, LiteRTRunner, export_litert

METADATA_FILE = "metadata.json"
ACTIVE_FILE = "ACTIVE"
PARITY_TOLERANCE = 1e-4
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class VersionError(Exception):
    """A model version is missing, unreadable or cannot be written."""


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder of model versions: the argument, or this checkout's ``models/``. The
    application passes its own (settings.MODELS_DIR); mlcore reads no environment."""
    return Path(path or DEFAULT_MODELS_DIR)


@dataclass(frozen=True)
class ActiveVersion:
    """The version ``ACTIVE`` names, read once for one use: its id, its folder and its
    metadata (None when the folder or its metadata.json is missing or unreadable)."""

    id: str
    path: Path
    metadata: dict | None

    @property
    def class_names(self) -> tuple[str, ...]:
        """The version's own classes, in the order of its outputs."""
        return tuple((self.metadata or {}).get("class_names", ()))


def active(root: Path | None = None) -> ActiveVersion | None:
    """The version served from ``root``, or None when ``ACTIVE`` names none."""
    version = active_version(root)
    if version is None:
        return None
    path = models_dir(root) / version
    try:
        metadata = read_metadata(path)
    except VersionError:
        metadata = None
    return ActiveVersion(id=version, path=path, metadata=metadata)


def write_version(
    root: Path,
    model,
    metadata: dict,
    *,
    parity_images: np.ndarray,
    log: Callable[[str], None] = print,
) -> Path:
    """Save model, LiteRT export and metadata into a new version folder, atomically."""
    with _new_version(root) as new:
        model.save(new.folder / KERAS_FILE)
        runtimes = {"keras": {"file": KERAS_FILE}}
        runtimes.update(_export_checked(model, new.folder, parity_images, log))
        new.metadata = {
            **new.metadata,
            **metadata,
            "runtimes": runtimes,
            "libraries": _library_versions(),
        }
    return root / new.version


def derive_version(root: Path, source_dir: Path, updates: dict) -> Path:
    """A new version with the same model files as ``source_dir`` and its metadata
    updated (e.g. a calibration fitted later): versions are never edited."""
    source = read_metadata(source_dir)
    with _new_version(root) as new:
        for name in (KERAS_FILE, LITERT_FILE):
            if (source_dir / name).is_file():
                shutil.copy2(source_dir / name, new.folder / name)
        new.metadata = {**source, **updates, **new.metadata, "derived_from": source["version"]}
    return root / new.version


@dataclass
class _NewVersion:
    version: str
    folder: Path  # the hidden staging folder, renamed to root/version when complete
    metadata: dict  # written as metadata.json last; starts with version and created


@contextmanager
def _new_version(root: Path) -> Iterator[_NewVersion]:
    """A new version folder that appears whole or not at all: the block fills a hidden
    ``.<version>.partial`` folder, then metadata.json is written and the folder renamed
    into place; if anything fails, the partial folder is removed."""
    root.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    version = _free_version_id(root, created.strftime("%Y%m%d-%H%M%S"))
    staging = root / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    new = _NewVersion(
        version, staging, {"version": version, "created": created.isoformat(timespec="seconds")}
    )
    try:
        yield new
        (staging / METADATA_FILE).write_text(json.dumps(new.metadata, indent=2) + "\n")
        staging.rename(root / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_metadata(version_dir: Path) -> dict:
    try:
        return json.loads((version_dir / METADATA_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise VersionError(f"Cannot read {version_dir / METADATA_FILE}: {exc}") from exc


def resolve(version_or_path: str | os.PathLike | None = None, *, root: Path | None = None) -> Path:
    """A version folder from a path, a version id, or (None) the active version."""
    root = models_dir(root)
    if version_or_path is None:
        version_or_path = active_version(root)
        if version_or_path is None:
            raise VersionError(f"No active model version in {root} (no {ACTIVE_FILE} file).")
    candidate = Path(version_or_path)
    for folder in (candidate, root / candidate):
        if (folder / METADATA_FILE).is_file():
            return folder
    raise VersionError(f"No model version {version_or_path} (looked in {root}).")


def active_version(root: Path | None = None) -> str | None:
    """The id ``ACTIVE`` names: the one place that reads the file (see :func:`active`)."""
    try:
        return (models_dir(root) / ACTIVE_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def activate(version: str, root: Path | None = None) -> None:
    """Make ``version`` the one the application serves (atomic file replace)."""
    root = models_dir(root)
    version_dir = resolve(version, root=root)
    if version_dir.parent.resolve() != root.resolve():
        raise VersionError(f"Only versions inside {root} can be activated.")
    staging = root / f".{ACTIVE_FILE}.partial"
    staging.write_text(version_dir.name + "\n")
    staging.replace(root / ACTIVE_FILE)


def list_versions(root: Path | None = None) -> list[str]:
    root = models_dir(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / METADATA_FILE).is_file())


def _free_version_id(root: Path, stem: str) -> str:
    """Versions are immutable: never reuse a folder name, even within one second."""
    version, counter = stem, 1
    while (root / version).exists() or (root / f".{version}.partial").exists():
        counter += 1
        version = f"{stem}-{counter}"
    return version


def _export_checked(model, folder: Path, images: np.ndarray, log) -> dict:
    """Export to LiteRT and keep it only if it agrees with Keras on real images."""
    path = folder / LITERT_FILE
    export_litert(model, path)
    expected = model(images, training=False)
    expected = np.asarray(expected)
    runner = LiteRTRunner(path)
    difference = float(np.max(np.abs(runner(images) - expected))) if len(images) else 0.0
    if difference > PARITY_TOLERANCE:
        path.unlink()
        log(f"LiteRT export differs from Keras by {difference:.2e}; not shipping it.")
        return {}
    return {
        "litert": {
            "file": LITERT_FILE,
            "max_abs_diff_vs_keras": difference,
            "checked_images": len(images),
        }
    }


def _library_versions() -> dict:
    names = ("tensorflow-cpu", "keras", "numpy", "pillow", "ai-edge-litert")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return found
