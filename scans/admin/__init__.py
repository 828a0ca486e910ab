"""The staff admin, one module per subject; importing the package registers them all
(Django's admin autodiscovery imports ``scans.admin``)."""

from scans.admin import accounts, audit_events, model_versions, scans  # noqa: F401
