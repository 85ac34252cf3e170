"""The .dkr archive: constants of the format, writer and pure-Python reader (docs/archive-format.md)."""
