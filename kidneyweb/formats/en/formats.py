"""English dates as the site has always written them (ISO order, 24-hour clock);
everything not named here is Django's English format."""

SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATETIME_FORMAT = "Y-m-d H:i:s"
