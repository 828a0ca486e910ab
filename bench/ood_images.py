"""The project's set of images that are not kidney CT slices, and what the model does with
them; prints one JSON object.

    .venv/bin/python bench/ood_images.py [--model VERSION]

The set and the measure are test support (tests/support/ood_images.py): the OOD tests
assert on the same images this prints figures for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.ood_images import refusal_rates  # noqa: E402


def main() -> None:
    from mlcore.inference import load_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    default_sample = ROOT.parent / "shared" / "data" / "kidney-ct-sample"
    parser.add_argument(
        "--sample", type=Path, default=Path(os.environ.get("KIDNEY_SAMPLE_DIR", default_sample))
    )
    args = parser.parse_args()
    classifier = load_classifier(args.model, models_dir=args.models_dir)
    print(json.dumps(refusal_rates(classifier, args.sample), indent=2))


if __name__ == "__main__":
    main()
