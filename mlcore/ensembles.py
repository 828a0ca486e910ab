"""A version of networks that read different views of a slice.

Recipes that read a slice differently (the whole masked slice, the square around
the body) make errors of their own, and the mean of their networks' probabilities
reads new patients better than either (docs/model-card.md). Their networks cannot
share one input, so such a version takes the views stacked, (views, size, size, 3):
network k reads view k, and the probabilities are averaged in the graph (one file,
one forward pass, exported to LiteRT like any version). Its ``preprocessing``
records the views (mlcore.preprocessing.View), which serving, evaluation and
Grad-CAM follow.

It is built from finished versions trained on the same data. Its temperature and
"uncertain" threshold come later, from the out-of-fold readings of the members'
recipes (mlcore.ensemble_cv, ``calibrate_model --crossvalidation``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import keras

from mlcore import data, versions
from mlcore.preprocessing import View, recorded_view, recorded_views
from mlcore.runtime import KERAS_FILE

# How many real slices the LiteRT export is checked on against Keras.
PARITY_SLICES = 32
# What every network of one version must share, and how to say that two do not.
_MUST_AGREE = (
    (lambda m: m.get("class_names"), "have other classes"),
    (lambda m: m.get("input_size"), "have other input size"),
    (lambda m: m.get("dataset", {}).get("fingerprint"), "were trained on other data"),
    (lambda m: m.get("inference", {}).get("flip_averaging"), "differ in flip averaging"),
)


def make_view_ensemble(models: Sequence[keras.Model]) -> keras.Model:
    """One model: view k of the stacked input to network k, the probabilities averaged."""
    inputs = keras.Input((len(models), *models[0].input_shape[1:]), name="views")
    outputs = []
    for index, model in enumerate(models):
        model.name = f"member_{index}"
        outputs.append(model(keras.ops.take(inputs, index, axis=1)))
    average = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, average, name="kidney_view_ensemble")


def member_view(metadata: dict) -> View:
    """The view a single-view version reads."""
    preprocessing = metadata.get("preprocessing", {})
    if preprocessing.get("views"):
        raise versions.VersionError(
            f"Version {metadata['version']} already reads several views: give its members."
        )
    return recorded_view(preprocessing)


def ensemble_metadata(members: Sequence[dict]) -> dict:
    """The new version's metadata from its members' (checked to fit together): no
    calibration yet, no "uncertain" threshold."""
    if len(members) < 2:
        raise versions.VersionError("An ensemble needs at least two versions.")
    first = members[0]
    for other in members[1:]:
        for read, differ in _MUST_AGREE:
            if read(other) != read(first):
                raise versions.VersionError(
                    f"Versions {first['version']} and {other['version']} {differ}."
                )
    views = [member_view(member) for member in members]
    preprocessing = {
        key: value
        for key, value in first.get("preprocessing", {}).items()
        if key not in ("body_mask", "body_crop")
    }
    return {
        "class_names": first["class_names"],
        "input_size": first["input_size"],
        "inference": {"flip_averaging": first.get("inference", {}).get("flip_averaging", False)},
        "preprocessing": {**preprocessing, "views": [asdict(view) for view in views]},
        "training": {
            "ensemble_of": [member.get("training", {}) for member in members],
            "member_versions": [member["version"] for member in members],
        },
        "dataset": first.get("dataset", {}),
        # Fitted on the same whole training slices (the members share their data).
        "ood": first.get("ood"),
        "metrics": {},
    }


def write_view_ensemble(
    root: Path,
    member_dirs: Sequence[Path],
    parity_items: Sequence[data.LabeledImage],
    *,
    log: Callable[[str], None] = print,
) -> Path:
    """A new version in ``root`` of the members' networks, each reading its own view;
    the LiteRT export is checked against Keras on ``parity_items`` (real slices)."""
    members = [versions.read_metadata(Path(folder)) for folder in member_dirs]
    metadata = ensemble_metadata(members)
    views = recorded_views(metadata["preprocessing"])
    parity = data.decode_images(
        parity_items[:PARITY_SLICES], int(metadata["input_size"][0]), views=views
    )
    if not len(parity.labels):
        raise data.DatasetError("No readable slice to check the export on.")
    model = make_view_ensemble(
        [keras.saving.load_model(Path(f) / KERAS_FILE, compile=False) for f in member_dirs]
    )
    return versions.write_version(root, model, metadata, parity_images=parity.images, log=log)
