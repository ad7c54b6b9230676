"""The ``reporter`` command, one module per group of verbs."""
