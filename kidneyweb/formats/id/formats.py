"""Indonesian dates as clinicians there write them (day first, hours with a dot);
everything not named here is Django's Indonesian format (decimal comma)."""

SHORT_DATETIME_FORMAT = "d-m-Y H.i"
DATETIME_FORMAT = "j N Y H.i.s"
