"""What the API reads and writes, as JSON: scans, their readings and reviews, versions."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scans.models import Diagnosis, ModelVersion, Prediction, ReadingState, Review, Scan


class PredictionSerializer(serializers.ModelSerializer):
    """One reading. Its ``reading_state`` says what it may be acted on as; a refused
    image (``not_a_ct``) has no ``label``, ``confidence`` or ``probabilities``."""

    reading_state = serializers.ChoiceField(
        choices=ReadingState.choices,
        help_text="not_a_ct: refused, no kidney finding; uncertain: below the version's "
        "threshold, needs a review; confident.",
    )
    label = serializers.ChoiceField(
        source="finding",
        choices=Diagnosis.choices,
        allow_null=True,
        help_text="The AI's kidney class; null when the image was refused (not_a_ct).",
    )
    confidence = serializers.FloatField(
        source="finding_confidence",
        allow_null=True,
        help_text="Calibrated probability of the label; null when the image was refused.",
    )
    probabilities = serializers.SerializerMethodField(
        help_text="Probability of each of the four classes; null when the image was refused."
    )
    raw_probabilities = serializers.DictField(
        source="probabilities",
        child=serializers.FloatField(),
        help_text="The network's output for each class as computed, before the not-a-CT "
        "check: for a refused image (not_a_ct) these are not a finding.",
    )
    model_version = serializers.CharField(source="model_version_id")
    fills_frame = serializers.SerializerMethodField(
        help_text="true: the body fills the slice from top to bottom, as in a coronal or "
        "sagittal slice, which the model reads far less reliably than an axial one; false: "
        "it does not (no proof of an axial slice); null: the image was refused, or it was "
        "read before this was recorded."
    )

    class Meta:
        model = Prediction
        fields = [
            "reading_state",
            "label",
            "confidence",
            "probabilities",
            "raw_probabilities",
            "model_version",
            "uncertain",
            "out_of_distribution",
            "fills_frame",
            "milliseconds",
            "created_at",
        ]
        extra_kwargs = {
            "uncertain": {"help_text": "Less confident than the version's threshold: review it."},
            "out_of_distribution": {
                "help_text": "Not like the CT slices the model learnt from: no finding given."
            },
            "milliseconds": {"help_text": "Time the model took for this image."},
        }

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_fills_frame(self, prediction: Prediction) -> bool | None:
        return None if prediction.finding is None else prediction.fills_frame

    @extend_schema_field(serializers.DictField(child=serializers.FloatField(), allow_null=True))
    def get_probabilities(self, prediction: Prediction) -> dict | None:
        return None if prediction.finding is None else prediction.probabilities


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.get_username")
    true_label = serializers.SerializerMethodField(
        help_text="The class the reviewer says the slice shows; null: not a kidney CT slice."
    )

    class Meta:
        model = Review
        fields = ["verdict", "true_label", "agrees", "comment", "reviewer", "created_at"]

    @extend_schema_field(serializers.ChoiceField(choices=Diagnosis.choices, allow_null=True))
    def get_true_label(self, review: Review) -> str | None:
        return review.true_label or None


class ScanLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    image = serializers.URLField()
    page = serializers.URLField(help_text="The scan's result page in the web app.")


class ScanSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username")
    prediction = serializers.SerializerMethodField()
    review = ReviewSerializer(allow_null=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Scan
        fields = [
            "id",
            "status",
            "original_name",
            "note",
            "image_format",
            "width",
            "height",
            "size_bytes",
            "sha256",
            "dicom",
            "owner",
            "uploaded_at",
            "processing_at",
            "done_at",
            "failed_at",
            "failure_reason",
            "prediction",
            "review",
            "links",
        ]

    @extend_schema_field(PredictionSerializer(allow_null=True))
    def get_prediction(self, scan: Scan) -> dict | None:
        """The current reading, once the scan is done (a re-read keeps the old one until
        the new one is written)."""
        if scan.status != Scan.Status.DONE or scan.prediction is None:
            return None
        return PredictionSerializer(scan.prediction).data

    @extend_schema_field(ScanLinksSerializer)
    def get_links(self, scan: Scan) -> dict:
        request = self.context["request"]
        return {
            "self": request.build_absolute_uri(reverse("api-scan-detail", args=[scan.pk])),
            "image": request.build_absolute_uri(reverse("api-scan-image", args=[scan.pk])),
            "page": request.build_absolute_uri(reverse("scan_detail", args=[scan.pk])),
        }


class RejectedFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


SINGLE_VALUED = ("note", "window_level", "window_width")


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        min_length=1,
        help_text="One or several JPEG, PNG or DICOM files, each as a `files` part.",
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    # Leave them out for the default (multipart has no null).
    window_level = serializers.FloatField(
        required=False, default=None, help_text="DICOM only (HU); default 40."
    )
    window_width = serializers.FloatField(
        required=False, default=None, min_value=1, help_text="DICOM only (HU); default 400."
    )

    def to_internal_value(self, data):
        # A form field sent twice would silently lose one of its values.
        if hasattr(data, "getlist"):
            repeated = [name for name in SINGLE_VALUED if len(data.getlist(name)) > 1]
            if repeated:
                raise serializers.ValidationError(
                    {name: [gettext("Send it once.")] for name in repeated}
                )
        return super().to_internal_value(data)

    def validate_files(self, files: list) -> list:
        if len(files) > settings.MAX_FILES_PER_UPLOAD:
            raise serializers.ValidationError(
                gettext("At most %(limit)d files per upload; %(sent)d were sent.")
                % {"limit": settings.MAX_FILES_PER_UPLOAD, "sent": len(files)}
            )
        return files


class UploadResultSerializer(serializers.Serializer):
    scans = ScanSerializer(many=True)
    rejected = RejectedFileSerializer(many=True)


class UploadErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    rejected = RejectedFileSerializer(
        many=True, required=False, help_text="Files refused for their content, with why."
    )
    errors = serializers.JSONField(
        required=False,
        help_text="Fields of the request that are not valid, with why.",
    )


@extend_schema_field(
    {"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "enum": [""]}]}
)
class OptionalDateField(serializers.DateField):
    """A date, or empty for "any" (DRF skips empty optional query values)."""


class ScanFilterSerializer(serializers.Serializer):
    """The list's query parameters; the history page's filters."""

    # Empty values mean "any", as in the history page's form.
    status = serializers.ChoiceField(choices=Scan.Status.choices, required=False, allow_blank=True)
    label = serializers.ChoiceField(
        choices=Diagnosis.choices, required=False, allow_blank=True, help_text="The AI's diagnosis."
    )
    reading_state = serializers.ChoiceField(
        choices=ReadingState.choices,
        required=False,
        allow_blank=True,
        help_text="Finished scans whose reading is in this state.",
    )
    date_from = OptionalDateField(required=False, help_text="Uploaded on or after.")
    date_to = OptionalDateField(required=False, help_text="Uploaded on or before.")
    q = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Search in file names and notes.",
    )

    def filters(self) -> dict:
        data = self.validated_data
        return {
            "status": data.get("status", ""),
            "diagnosis": data.get("label", ""),
            "reading_state": data.get("reading_state", ""),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "query": data.get("q", "").strip(),
        }


class ModelVersionSerializer(serializers.ModelSerializer):
    """A version; ``is_active`` compares it with ``context["active_id"]`` (the version
    models/ACTIVE names, read once per request)."""

    is_active = serializers.SerializerMethodField(help_text="The version reading new scans.")
    validation_accuracy = serializers.FloatField(allow_null=True)
    recall = serializers.SerializerMethodField()
    crossvalidated_balanced_accuracy = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "created",
            "is_active",
            "crossvalidated_balanced_accuracy",
            "validation_accuracy",
            "recall",
            "metrics",
        ]

    def get_is_active(self, version: ModelVersion) -> bool:
        return version.id == self.context.get("active_id")

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_crossvalidated_balanced_accuracy(self, version: ModelVersion) -> float | None:
        """Mean over patient-block folds of the mean class recall (new patients); null
        for a version that was not cross-validated. Per fold: metrics.crossvalidation."""
        figure = version.crossvalidated_balanced_accuracy
        return figure[0] if figure else None

    @extend_schema_field(serializers.DictField(child=serializers.FloatField()))
    def get_recall(self, version: ModelVersion) -> dict[str, float]:
        """Held-out recall of each class."""
        per_class = (version.metrics.get("validation") or {}).get("per_class") or {}
        return {name: row["recall"] for name, row in per_class.items() if "recall" in row}


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField(required=False)
    version = serializers.CharField(required=False, allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    database = HealthCheckSerializer()
    broker = HealthCheckSerializer()
    model = HealthCheckSerializer()
