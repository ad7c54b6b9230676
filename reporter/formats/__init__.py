"""The file and wire formats: pure functions and types, no I/O beyond the streams given."""
