from __future__ import annotations

from pathlib import Path

from mlcore import versions


def active_model_version(*, models_dir: Path) -> dict | None:
    """The metadata of the model named in models_dir/ACTIVE, or None if none is active.

    Reads plain files (no TensorFlow), so a page can show the model cheaply.
    """
    version = versions.active_version(models_dir)
    if version is None:
        return None
    try:
        return versions.read_metadata(versions.resolve(version, root=models_dir))
    except versions.VersionError:
        return None
