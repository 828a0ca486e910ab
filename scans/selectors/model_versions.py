"""Reads about model versions: which one is served, what a version's card shows, the
caveats of a reading, a version's metadata."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy

from mlcore import versions


def active_model_version(*, models_dir: Path | None = None) -> versions.ActiveVersion | None:
    """Which model version is served: the one ``ACTIVE`` names in the models folder
    (settings.MODELS_DIR), or None. The one answer the classifier, the pages, the health
    check, the API and the admin use; read anew on each call (plain files, no
    TensorFlow), so an activation shows everywhere at once without a restart.
    """
    return versions.active(Path(models_dir or settings.MODELS_DIR))


def model_version_card(*, metadata: dict) -> dict:
    """What a version's card shows: how it was measured on patients it never saw
    (patient-block cross-validation when it has it, else its held-out split)."""
    metrics = metadata.get("metrics") or {}
    crossvalidation = metrics.get("crossvalidation")
    classes = metadata.get("class_names", [])
    card = {
        "metadata": metadata,
        "classes": classes,
        "calibration": metadata.get("calibration") or {},
        "held_out": metrics.get("validation"),
        "crossvalidation": None,
    }
    if crossvalidation:
        mean, spread = crossvalidation["mean"], crossvalidation["spread"]

        def figures(row: dict) -> dict:
            return {
                "balanced_accuracy": row.get("balanced_accuracy"),
                "accuracy": row.get("accuracy"),
                "recalls": [row.get(f"recall_{name}") for name in classes],
                "attention_in_body": row.get("attention_in_body"),
                "confidently_wrong": row.get("confidently_wrong"),
                "uncertain_share": row.get("uncertain_share"),
                "refused_share": row.get("refused_share"),
            }

        card["crossvalidation"] = {
            "folds": crossvalidation["folds"],
            "rows": [{"fold": row["fold"], **figures(row)} for row in crossvalidation["per_fold"]],
            "mean": figures(mean),
            "spread": figures(spread),
        }
    return card


# A class recognised less often than this on new patients is named on the reading.
WEAK_RECALL = 0.9
_NOUNS = {
    "Cyst": (gettext_lazy("a cyst"), gettext_lazy("cysts")),
    "Normal": (gettext_lazy("a normal slice"), gettext_lazy("normal slices")),
    "Stone": (gettext_lazy("a stone"), gettext_lazy("stones")),
    "Tumor": (gettext_lazy("a tumour"), gettext_lazy("tumours")),
}


def reading_caveats(*, prediction, metadata: dict) -> list[str]:
    """One plain sentence for the reading's class and its runner-up, each where the
    version's cross-validated recall of that class is below WEAK_RECALL, naming what
    that class is most often mistaken for (metrics.crossvalidation of the metadata).
    Nothing for a refused image, or for a version without cross-validation. A slice
    whose body fills it from top to bottom (coronal or sagittal: Prediction.fills_frame)
    gets a sentence of its own first, whatever the version: every version so far
    learnt mostly from axial slices and reads coronal ones far less reliably
    (docs/model-card.md, "Coronal slices")."""
    if prediction.finding is None:
        return []
    sentences = []
    if prediction.fills_frame:
        sentences.append(
            gettext(
                "The body fills this slice from top to bottom, as in a coronal or sagittal "
                "slice. The model learnt mostly from axial slices and reads coronal ones "
                "far less reliably: check this reading with particular care."
            )
        )
    crossvalidation = (metadata.get("metrics") or {}).get("crossvalidation") or {}
    mean = crossvalidation.get("mean") or {}
    if not mean:
        return sentences
    ranked = sorted(prediction.probabilities, key=prediction.probabilities.get, reverse=True)
    confusion = crossvalidation.get("confusion") or {}
    for name in ranked[:2]:
        recall = mean.get(f"recall_{name}")
        if recall is None or recall >= WEAK_RECALL:
            continue
        one, many = _NOUNS.get(name, (f"a {name} slice", f"{name} slices"))
        found = round(10 * recall)
        mistaken = _most_confused_with(name, confusion)
        words = {"found": found, "many": many, "one": one}
        if mistaken:
            words["other"] = _NOUNS.get(mistaken, (mistaken,))[0]
            sentence = gettext(
                "On new patients this model version recognises %(found)d of 10 %(many)s; "
                "%(one)s may be read as %(other)s."
            )
        else:
            sentence = gettext(
                "On new patients this model version recognises %(found)d of 10 %(many)s."
            )
        sentences.append(sentence % words)
    return sentences


def _most_confused_with(name: str, confusion: dict) -> str | None:
    """The class most often predicted for true ``name`` slices, other than ``name``."""
    classes, matrix = confusion.get("classes") or [], confusion.get("matrix") or []
    if name not in classes or len(matrix) != len(classes):
        return None
    row = matrix[classes.index(name)]
    wrong = [(count, other) for other, count in zip(classes, row, strict=True) if other != name]
    count, other = max(wrong, default=(0, None))
    return other if count else None


def prediction_caveats(*, prediction) -> list[str]:
    """:func:`reading_caveats` of a stored reading, from its own version's metadata."""
    metadata = model_version_metadata(version=prediction.model_version_id)
    return reading_caveats(prediction=prediction, metadata=metadata)


def model_version_metadata(*, version: str, models_dir: Path | None = None) -> dict:
    """A version's metadata.json (in ``models_dir``, by default settings.MODELS_DIR),
    or {} if its folder is gone. Only a version id of the models folder is looked up,
    never a path (the id may come from a URL)."""
    models_dir = Path(models_dir or settings.MODELS_DIR)
    if version not in versions.list_versions(models_dir):
        return {}
    try:
        return versions.read_metadata(versions.resolve(version, root=models_dir))
    except versions.VersionError:
        return {}
