from __future__ import annotations

import json
from pathlib import Path


def active_model_version(*, models_dir: Path) -> dict | None:
    """The metadata of the model named in models_dir/ACTIVE, or None if none is active.

    Reads plain files so that a page can show the model without loading TensorFlow.
    """
    try:
        version = (models_dir / "ACTIVE").read_text().strip()
        if not version:
            return None
        metadata = json.loads((models_dir / version / "metadata.json").read_text())
    except FileNotFoundError:
        return None
    return {**metadata, "version": version}
