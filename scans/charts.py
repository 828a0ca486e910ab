"""Numbers shaped for drawing: the SVG charts of the result page, admin and dashboard."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from scans.models import Diagnosis, Scan

CHART_BAR_WIDTH = 200  # SVG units, as in templates/scans/_probability_chart.html
CHART_ROW_HEIGHT = 28


def probability_bars(scan: Scan) -> list[dict]:
    """The four classes in model order for the SVG chart, with the winner marked."""
    prediction = scan.prediction if scan.status == Scan.Status.DONE else None
    if prediction is None:
        return []
    bars = []
    for row, label in enumerate(Diagnosis.values):
        probability = float(prediction.probabilities.get(label, 0.0))
        bars.append(
            {
                "label": label,
                "percent": f"{100 * probability:.1f}",
                "width": f"{CHART_BAR_WIDTH * probability:.1f}",
                "y": row * CHART_ROW_HEIGHT,
                "winner": label == prediction.label,
            }
        )
    return bars


DAY_CHART_WIDTH, DAY_CHART_HEIGHT = 600, 120  # SVG units of the dashboard's day charts


def dashboard_charts(stats: dict, since: date) -> dict:
    """SVG geometry for the dashboard: uploads per day (bars), agreement per day (line),
    and the confusion matrix as a heatmap (cell shade = share of its row)."""
    days = [since + timedelta(days=i) for i in range((timezone.localdate() - since).days + 1)]
    step = DAY_CHART_WIDTH / max(len(days), 1)
    top = max(stats["uploads_by_day"].values(), default=0) or 1
    upload_bars = []
    for i, day in enumerate(days):
        n = stats["uploads_by_day"].get(day, 0)
        height = DAY_CHART_HEIGHT * n / top
        upload_bars.append(
            {
                "day": day,
                "n": n,
                "x": f"{i * step + 1:.1f}",
                "width": f"{max(step - 2, 1):.1f}",
                "y": f"{DAY_CHART_HEIGHT - height:.1f}",
                "height": f"{height:.1f}",
            }
        )
    agreement_points = [
        {
            "day": day,
            "rate": rate,
            "x": f"{(days.index(day) + 0.5) * step:.1f}",
            "y": f"{DAY_CHART_HEIGHT * (1 - rate):.1f}",
        }
        for day, rate in stats["agreement_by_day"].items()
        if day in days
    ]
    heatmap = []
    for label, row in zip(stats["labels"], stats["confusion_matrix"], strict=True):
        total = sum(row) or 1
        heatmap.append(
            {
                "label": label,
                "cells": [
                    {"n": n, "shade": f"{n / total:.2f}", "diagonal": j == len(heatmap)}
                    for j, n in enumerate(row)
                ],
            }
        )
    return {
        "upload_bars": upload_bars,
        "uploads_top": top,
        "agreement_points": agreement_points,
        "agreement_polyline": " ".join(f"{p['x']},{p['y']}" for p in agreement_points),
        "heatmap": heatmap,
        "day_chart": {"width": DAY_CHART_WIDTH, "height": DAY_CHART_HEIGHT},
    }
