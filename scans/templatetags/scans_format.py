from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

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


# After these a long file name may break: "CT_kidney-2026.05.01_slice-0042.dcm".
WRAP_AFTER = re.compile(r"([_\-.)/\\])")


@register.filter
def wrappable(value) -> str:
    """A file name with line-break opportunities (<wbr>) after its separators, so a long
    name wraps between its parts, not in the middle of a word (CSS breaks any run still
    too long: overflow-wrap)."""
    return mark_safe(WRAP_AFTER.sub(r"\1<wbr>", escape(str(value))))  # escaped first
