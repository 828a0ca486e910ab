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
                "probability": probability,  # shown with the percent filter (per language)
                "percent": f"{100 * probability:.1f}",  # a CSS width, always with a dot
                "width": f"{CHART_BAR_WIDTH * probability:.1f}",
                "y": row * CHART_ROW_HEIGHT,
                "winner": label == prediction.label,
            }
        )
    return bars


# The dashboard's day charts, in SVG units: the plot and the margins for the axes'
# labels (templates/scans/dashboard.html draws them; the text keeps its size in CSS).
DAY_CHART_WIDTH, DAY_CHART_HEIGHT = 640, 200
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 60, 620, 24, 170
DATE_TICKS = 6  # at most this many dates on the time axis
LABELLED_DAYS = 31  # up to a month, each day's value is written by its bar or point


def dashboard_charts(stats: dict, since: date) -> dict:
    """SVG geometry for the dashboard: uploads per day (bars), agreement per day (line),
    both with a time axis of dates and a value axis with its unit, and the confusion
    matrix as a heatmap (cell shade = share of its row)."""
    days = [since + timedelta(days=i) for i in range((timezone.localdate() - since).days + 1)]
    step = (PLOT_RIGHT - PLOT_LEFT) / max(len(days), 1)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    top = _nice_top(max(stats["uploads_by_day"].values(), default=0))
    labelled = len(days) <= LABELLED_DAYS
    upload_bars = []
    for i, day in enumerate(days):
        n = stats["uploads_by_day"].get(day, 0)
        height = plot_height * n / top
        upload_bars.append(
            {
                "day": day,
                "n": n,
                "x": f"{PLOT_LEFT + i * step + step * 0.1:.1f}",
                "width": f"{max(step * 0.8, 1):.1f}",
                "y": f"{PLOT_BOTTOM - height:.1f}",
                "height": f"{height:.1f}",
                "label_x": f"{PLOT_LEFT + (i + 0.5) * step:.1f}",
                "label_y": f"{PLOT_BOTTOM - height - 4:.1f}",
                "labelled": labelled and n > 0,
            }
        )
    agreement_points = [
        {
            "day": day,
            "rate": rate,
            "x": f"{PLOT_LEFT + (days.index(day) + 0.5) * step:.1f}",
            "y": f"{PLOT_BOTTOM - plot_height * rate:.1f}",
            "label_y": f"{PLOT_BOTTOM - plot_height * rate - 8:.1f}",
        }
        for day, rate in stats["agreement_by_day"].items()
        if day in days
    ]
    for point in agreement_points:
        point["labelled"] = len(agreement_points) <= LABELLED_DAYS // 2
    count_ticks = [
        {"y": f"{PLOT_BOTTOM - plot_height * value / top:.1f}", "value": value}
        for value in (0, top // 2, top)
    ]
    percent_ticks = [
        {"y": f"{PLOT_BOTTOM - plot_height * share:.1f}", "value": share} for share in (0, 0.5, 1)
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
        "uploads_top": max(stats["uploads_by_day"].values(), default=0),
        "agreement_points": agreement_points,
        "agreement_polyline": " ".join(f"{p['x']},{p['y']}" for p in agreement_points),
        "heatmap": heatmap,
        "today": days[-1],
        "day_chart": {
            "width": DAY_CHART_WIDTH,
            "height": DAY_CHART_HEIGHT,
            "left": PLOT_LEFT,
            "right": PLOT_RIGHT,
            "top": PLOT_TOP,
            "bottom": PLOT_BOTTOM,
            "date_ticks": _date_ticks(days, step),
            "count_ticks": count_ticks,
            "percent_ticks": percent_ticks,
        },
    }


def _nice_top(highest: int) -> int:
    """The value axis' top: the highest day rounded up to an even number (2, 4, 10, 20,
    40, 100 ...), so its half is a whole number too; 2 for an empty chart."""
    top = 2
    while top < highest:
        top = top * 5 // 2 if str(top).startswith("4") else top * 2
    return top


def _date_ticks(days: list[date], step: float) -> list[dict]:
    """Up to DATE_TICKS dates spread over the time axis, the first and the last day
    included, each centred under its day."""
    if not days:
        return []
    stride = max(1, -(-(len(days) - 1) // (DATE_TICKS - 1)))
    picked = list(range(0, len(days), stride))
    if picked[-1] != len(days) - 1:
        if len(days) - 1 - picked[-1] < stride / 2:
            picked.pop()  # too close to the last day to leave room for both labels
        picked.append(len(days) - 1)
    return [{"day": days[i], "x": f"{PLOT_LEFT + (i + 0.5) * step:.1f}"} for i in picked]
