"""Reads, one module a subject; import from the module that owns the read.

- ``scans``: who sees which scan, the history and API filters, counts, the query
  definitions of a reading's state and finding, the CSV export
- ``reviews``: the worklist and its neighbours, agreement, the dashboard
- ``model_versions``: which version is served (``active_model_version``, the one
  reader of ``models/ACTIVE`` for the site), a version's card, metadata and caveats
- ``health``: the health check
"""
