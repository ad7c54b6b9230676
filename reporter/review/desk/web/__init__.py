"""The desk's views: thin blueprints that parse a request, call the review modules
and render (``gate.py`` checks every request before any of them runs)."""
