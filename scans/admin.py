from __future__ import annotations

from django.contrib import admin

from scans.models import ModelVersion, Prediction, Scan


class PredictionInline(admin.TabularInline):
    model = Prediction
    extra = 0
    can_delete = False
    fields = ["model_version", "label", "confidence", "milliseconds", "created_at"]
    readonly_fields = fields


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "original_name", "uploaded_at", "status", "ai_label"]
    list_filter = ["status", "prediction__label", "uploaded_at"]
    search_fields = ["owner__username", "original_name", "note"]
    date_hierarchy = "uploaded_at"
    list_select_related = ["owner", "prediction"]
    readonly_fields = [
        f.name for f in Scan._meta.get_fields() if f.concrete and f.name not in ("note",)
    ]
    inlines = [PredictionInline]

    @admin.display(description="AI reading", ordering="prediction__label")
    def ai_label(self, scan: Scan) -> str:
        return str(scan.prediction) if scan.prediction else "—"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "is_active", "validation_accuracy"]
    list_filter = ["is_active"]
    readonly_fields = ["id", "created", "metrics", "is_active", "synced_at"]

    def has_add_permission(self, request) -> bool:
        return False  # versions come from models/ folders (train_model, sync_model_versions)
