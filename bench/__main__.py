"""``python -m bench``: run the intake benchmarks and print a Markdown table."""

# Imports stay inside the guard: client processes are started with "spawn",
# which re-imports this module as ``__mp_main__``; they need none of it.
if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main())
