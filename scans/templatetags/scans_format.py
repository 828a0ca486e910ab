from __future__ import annotations

import re

from django import template
from django.utils.formats import get_format
from django.utils.html import escape
from django.utils.safestring import mark_safe

from scans.models import Diagnosis, Scan

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.9731 -> "97.3%" (Indonesian "97,3%"); empty for a missing value."""
    if value is None or value == "":
        return ""
    # Rounded as before (number_format would cut the digits off), then the language's
    # decimal separator.
    text = f"{float(value) * 100:.{int(digits)}f}"
    return f"{text.replace('.', get_format('DECIMAL_SEPARATOR'))}%"


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


@register.filter
def label_display(value: str) -> str:
    """A class name as stored ("Stone") -> its label in the current language."""
    return Diagnosis(value).label if value in Diagnosis.values else value


@register.filter
def status_display(value: str) -> str:
    """A scan status as stored ("done") -> its label in the current language."""
    return Scan.Status(value).label if value in Scan.Status.values else value


@register.filter
def css_percent(value: float) -> str:
    """0.9731 -> "97.3%" with a dot in every language: a CSS width, not text."""
    return f"{float(value) * 100:.1f}%"
