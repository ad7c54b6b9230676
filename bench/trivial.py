"""The framework's ceiling: a trivial Flask app with one form POST route.

Served by the station's own server (``reporter.web.server.make_server``, the
same settings), so the comparison isolates what the station does per request
(form tokens and validation, sealing, the durable append, template rendering)
from what Flask and the server cost anyway.

``GET /`` answers a tiny form with a hidden ``form_token``, so the same load
generator drives both servers; ``POST /`` parses ``request.form`` and answers
a tiny page with ``class="receipt"``.

Run: ``python -m bench.trivial --port P [--threads 4]``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from flask import Flask, request
from markupsafe import escape

from reporter.station.config import Config
from reporter.web.server import make_server


def create_app(max_body_bytes: int) -> Flask:
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=max_body_bytes, MAX_FORM_MEMORY_SIZE=max_body_bytes)

    @app.get("/")
    def form() -> str:
        token = secrets.token_hex(16)
        return ('<!doctype html><title>Form</title><form method="post">'
                f'<input type="hidden" name="form_token" value="{token}">'
                '<textarea name="description"></textarea><button>Send</button></form>')

    @app.post("/")
    def submit() -> str:
        fields = request.form
        description = fields.get("description", "")
        return ('<!doctype html><title>Thanks</title>'
                f'<p class="receipt">{len(fields)} fields, {len(description)} characters, '
                f'{escape(fields.get("site", ""))}</p>')

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    # The same server settings as ``reporter serve``; the key is never used.
    config = Config(instance_path=Path("/nonexistent"), db_key=bytes(32))
    server = make_server(create_app(config.max_body_bytes), args.host, args.port,
                         args.threads, max_body_bytes=config.max_request_bytes)
    print(f"trivial app on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
