"""The benchmark of DESIGN.md §4: `python -m bench` (or `make bench`)."""
