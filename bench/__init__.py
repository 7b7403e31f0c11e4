"""eventlake's benchmark beside its peers: `python -m bench [--quick]` (or `make bench`)."""
