from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.9731 -> "97.3%"; empty for a missing value."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def minutes(value) -> int:
    """A timedelta in whole minutes: timedelta(minutes=15) -> 15."""
    return int(value.total_seconds() // 60)
