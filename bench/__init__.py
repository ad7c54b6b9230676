"""Benchmarks for the station's intake path (``python -m bench``).

One run measures, side by side and against the targets of issue 2:

* submissions per second and p50/p99 latency through a real ``reporter serve``
  process (its own server, `reporter/web/server`), with 1, 4 and 16 keep-alive clients;
* the framework's ceiling: a trivial Flask form-POST app under the same
  server settings, same clients, same payload;
* the raw floor: ``envelope.seal`` + ``Store.append_report`` in a loop, no HTTP;
* the idle and after-load RSS of ``reporter serve``;
* the size of the form page and the follow-up page.

``python -m bench.profile`` profiles the request path in-process.
See docs/benchmarks.md for the recorded results.

The load generator (``bench.load``) and the payload (``bench.payload``) use
the standard library only, so client processes start fast and stay small.
"""
