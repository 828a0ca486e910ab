# The Scan model arrives with the upload issue; the foundation has no tables of its own.
