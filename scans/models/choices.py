"""The site's fixed vocabularies: the kidney classes and what a reading may be acted on as."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Diagnosis(models.TextChoices):
    """The four classes of the model, in its output order."""

    CYST = "Cyst", _("Cyst")
    NORMAL = "Normal", _("Normal")
    STONE = "Stone", _("Stone")
    TUMOR = "Tumor", _("Tumor")


# Plain-language descriptions shown on the result page next to the AI's label.
DIAGNOSIS_DESCRIPTIONS = {
    Diagnosis.CYST: _(
        "A fluid-filled sac in the kidney. Simple cysts are common and usually "
        "harmless; complex cysts may need follow-up imaging."
    ),
    Diagnosis.NORMAL: _("No cyst, stone or tumour seen by the model in this slice."),
    Diagnosis.STONE: _(
        "A hard mineral deposit (calculus) in the kidney, bright on CT. Small "
        "stones may pass on their own; larger ones can block urine flow."
    ),
    Diagnosis.TUMOR: _(
        "A solid mass in the kidney. Many renal masses need further imaging "
        "or a specialist's assessment to tell benign from malignant."
    ),
}


class ReadingState(models.TextChoices):
    """What a reading may be acted on as: the one definition every page, export, API
    and statistic uses (Prediction.reading_state)."""

    # Refused: not like the CT slices the model learnt from. No kidney label and no
    # confidence are shown anywhere for it.
    NOT_A_CT = "not_a_ct", _("Not a CT slice")
    # Less confident than the version's threshold: a reading that needs a review.
    UNCERTAIN = "uncertain", _("Uncertain — needs review")
    CONFIDENT = "confident", _("Confident")
