"""Writes, one module a subject; import from the module that owns the write.

- ``batches``: the record of one upload's files (the batch page)
- ``uploads``: a scan from its file to its deletion: checked by content, stored,
  its note changed, deleted with its files
- ``readings``: sending scans to the workers and the reading's life (classify, fail,
  retry, re-read, requeue, heatmap)
- ``model_versions``: the database mirror of the model folders, activation
- ``reviews``: a reviewer's verdict
- ``accounts``: users, API keys, password-change limits
- ``storage``: writing and removing a scan's files

Services take the acting user (``actor``) and, where the write is audited, the
address of the request (``ip``): never the request itself, so the pages, the API,
the admin and the commands call them alike.
"""
