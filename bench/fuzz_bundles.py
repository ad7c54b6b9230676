"""Fuzz bundles for a fixed wall-clock time: ``python -m bench.fuzz_bundles``.

    .venv/bin/python -m bench.fuzz_bundles --seconds 300
    .venv/bin/python -m bench.fuzz_bundles --seconds 60 --seed 1234 --only mutation
    .venv/bin/python -m bench.fuzz_bundles --seed 1234 --replay bodies:517

A plain loop with a seeded RNG (the seed is printed first; iteration ``i`` of
a run draws everything from ``random.Random(f"{seed}:{i}")``, so any one
iteration can be replayed alone with ``--replay PROPERTY:I``). It checks the
properties of ``tests/formats/test_bundle_fuzz.py`` with that file's helpers
(``read_outcome``, ``import_outcome``, ``apply_ops``, ``seal_plaintext``,
``edit_manifest``) on inputs drawn like its Hypothesis strategies:

* ``bytes``: arbitrary bytes -> only ``FormatError``;
* ``mutation``: mutations of valid bundles -> always a ``FormatError``;
* ``import``: the same through ``review.import_bundle`` into a review
  database holding bundle 1 -> always a ``ReporterError``, database unchanged;
* ``frames``: arbitrary frames correctly encrypted to the reviewer -> only
  ``FormatError``;
* ``manifest``: signed variations of a manifest -> only ``FormatError``;
* ``bodies``: bundles correctly signed for a new station whose envelopes carry
  arbitrary report bodies, imported -> only ``ReporterError``, and the
  database unchanged when refused. (Anyone who knows a reviewer's public key
  can make such a bundle.)

At the end it prints the iterations per property, the outcomes, and every
distinct failure (property, exception, where it was raised) with the first
iteration that hit it. Failures matching a known bug (an ``xfail`` test in
``tests/formats/test_bundle_fuzz.py``) are listed as known. The exit status is 1 if
any failure is not known.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reporter.formats import bundle
from reporter.formats.bundle import MAGIC
from reporter.formats.chain import genesis
from reporter.formats.envelope import seal
from reporter.formats.receipt import new_receipt
from reporter.review.db import ReviewDB
from tests.formats.test_bundle_fuzz import (
    FOREIGN,
    HEADER_1,
    MANIFEST_FIELDS,
    REVIEWER,
    STATION,
    Op,
    apply_ops,
    corpus,
    edit_manifest,
    frame,
    import_outcome,
    make_manifest,
    prepared_review_db,
    read_outcome,
    seal_plaintext,
    serialise,
    signed_plaintext,
    write,
)

PROPERTIES = ("bytes", "mutation", "import", "frames", "manifest", "bodies")
PADDED = (0, 1, 65535, 65536, 131072, 3 * 65536, 2**26, 2**26 + 65536, 2**27, 2**40,
          2**40 + 2**26, 2**64 - 1)
# (property, exception) pairs pinned by xfail tests in tests/formats/test_bundle_fuzz.py.
KNOWN = {
    ("bodies", "UnicodeEncodeError"): "test_a_hostile_report_body_...[lone-surrogate]",
}


# --- drawing inputs ----------------------------------------------------------------------


def draw_bytes(rng: random.Random) -> bytes:
    choice = rng.randrange(5)
    if choice == 0:
        return rng.randbytes(rng.randrange(400))
    if choice == 1:
        return MAGIC + rng.randbytes(rng.randrange(400))
    if choice == 2:
        padded = rng.choice(PADDED) if rng.random() < 0.7 else rng.getrandbits(64)
        return (bundle.FIXED_HEADER.pack(MAGIC, rng.randrange(4), rng.randrange(71), padded)
                + rng.randbytes(rng.randrange(400)))
    if choice == 3:
        count, padded = rng.randint(1, 3), rng.choice([65536, 131072])
        total = (bundle.FIXED_HEADER.size + count * bundle.STANZA_BYTES
                 + bundle.SS_HEADER_BYTES + padded + padded // bundle.CHUNK * bundle.SS_ABYTES)
        return (bundle.FIXED_HEADER.pack(MAGIC, 1, count, padded)
                + rng.randbytes(total - bundle.FIXED_HEADER.size))
    source = corpus().multi if rng.random() < 0.5 else corpus().small
    return source[:HEADER_1] + rng.randbytes(len(source) - HEADER_1)


def draw_offset(rng: random.Random) -> int:
    return rng.randrange(201) if rng.random() < 0.3 else rng.randrange(2**20)


def draw_ops(rng: random.Random) -> list[Op]:
    ops: list[Op] = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["flip", "flip", "flip", "insert", "delete", "truncate",
                           "duplicate-chunk", "swap-chunks", "set-header", "splice"])
        if kind == "flip":
            ops.append((kind, draw_offset(rng), rng.randint(1, 255)))
        elif kind == "insert":
            ops.append((kind, draw_offset(rng), rng.randbytes(rng.randint(1, 40))))
        elif kind in ("delete", "splice"):
            ops.append((kind, draw_offset(rng), rng.randint(1, 70_000)))
        elif kind == "truncate":
            ops.append((kind, draw_offset(rng)))
        elif kind in ("duplicate-chunk", "swap-chunks"):
            ops.append((kind, rng.randrange(4), rng.randrange(4)))
        else:
            name = rng.choice(["version", "n", "P"])
            value = (rng.choice(PADDED) if rng.random() < 0.7 else rng.getrandbits(64)) \
                if name == "P" else rng.randrange(256)
            ops.append((kind, name, value))
    return ops


def draw_text(rng: random.Random) -> str:
    alphabet = ["a", "Z", "0", "é", "\u202e", "\x00", '"', "\\", "\ud800", "\udfff",
                "\U0001f600", " ", "-", "1"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))


def draw_json(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(10 if depth < 3 else 8)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice([0, 1, -1, 2**31, 2**63, 2**64, 2**70, -(2**63) - 1,
                           rng.randint(-100, 100)])
    if choice == 3:
        return rng.choice([0.5, -0.0, 1e300, 1.0])
    if choice == 4:
        return draw_text(rng)
    if choice == 5:
        return rng.randbytes(rng.choice([16, 32, 31])).hex()
    if choice == 6:
        return rng.choice(["2026-11-28", "2026-02-30", "9999-99-99", "2026-11-28T00:00"])
    if choice == 7:
        return rng.choice([STATION.verify_key.to_text(), FOREIGN.verify_key.to_text(),
                           "reporter-bundle", "incident", "follow-up", new_receipt()])
    if choice == 8:
        return [draw_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {draw_text(rng): draw_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def draw_frames(rng: random.Random) -> bytes:
    start = b""
    if rng.random() < 0.5:
        document = corpus().document
        start = signed_plaintext(serialise(document, "canonical"), [])[:-5]
    parts = []
    for _ in range(rng.randrange(7)):
        kind = rng.randrange(4) if rng.random() < 0.7 else rng.randrange(256)
        data = rng.randbytes(rng.randrange(121))
        length = None if rng.random() < 0.6 else rng.getrandbits(32)
        parts.append(frame(kind, data, length))
    return seal_plaintext(start + b"".join(parts) + rng.randbytes(rng.randrange(9)))


def draw_manifest_bundle(rng: random.Random) -> bytes:
    edits: list[Op] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["set", "set-number", "delete", "entry", "recipient"])
        if kind == "set":
            edits.append(("set", rng.choice([*MANIFEST_FIELDS, "extra"]), draw_json(rng)))
        elif kind == "set-number":
            edits.append(("set", rng.choice(["number", "first_seq", "last_seq"]),
                          rng.choice([rng.randint(-3, 40), 2**31, 2**62, 2**63 - 1])))
        elif kind == "delete":
            edits.append(("delete", rng.choice(MANIFEST_FIELDS)))
        elif kind == "entry":
            edits.append(("entry", rng.randrange(6), rng.randrange(4), draw_json(rng)))
        else:
            edits.append(("recipient", rng.randrange(4), draw_json(rng)))
    document = edit_manifest(corpus().document, edits)
    manifest = serialise(document, rng.choice(["canonical", "canonical", "spaced", "utf-8"]))
    signer = STATION if rng.random() < 0.8 else FOREIGN
    return seal_plaintext(signed_plaintext(manifest, corpus().envelopes, signer))


REPORT_FIELDS = ("incident_types", "incident_date", "site", "site_other", "description",
                 "source", "contact", "perpetrators", "casualties")


def draw_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.05:
        return rng.randbytes(rng.randrange(200))
    fields: dict[str, Any] = {"incident_types": ["other"], "site": "Marange",
                              "description": "x"}
    document: dict[str, Any] = {
        "schema": 1, "kind": "incident", "form": "incident/1", "receipt": new_receipt(),
        "follows": None, "locale": "fr", "submitted": "2026-11-02", "fields": fields}
    for _ in range(rng.randint(0, 3)):
        if rng.random() < 0.6:
            fields[rng.choice(REPORT_FIELDS)] = draw_json(rng)
        elif rng.random() < 0.5:
            document[rng.choice(list(document))] = draw_json(rng)
        elif document:
            document.pop(rng.choice(list(document)))
    if roll < 0.10:
        depth = rng.choice([10, 100, 900, 3000])
        document["fields"] = dict(fields, description="NESTED")
        text = json.dumps(document).replace('"NESTED"', "[" * depth + "]" * depth)
        return text.encode("utf-8")
    text = json.dumps(document, ensure_ascii=rng.random() < 0.7)
    return text.encode("utf-8", "surrogatepass")


def draw_bodies_bundle(rng: random.Random) -> bytes:
    envelopes = [seal(draw_body(rng), [REVIEWER.public_key]) for _ in range(rng.randint(1, 3))]
    station_id = rng.randbytes(16)
    signer = rng.choice([STATION, FOREIGN])
    manifest = make_manifest(envelopes, number=1, first_seq=1, previous=None,
                             chain_before=genesis(station_id), station_id=station_id,
                             signer=signer)
    return write(manifest, envelopes, signer=signer)


# --- running -------------------------------------------------------------------------------


@dataclass
class Context:
    folder: Path
    import_db: ReviewDB
    bodies_db: ReviewDB


def name_of(exc: BaseException | None) -> str:
    return "accepted" if exc is None else type(exc).__name__


def run_one(prop: str, rng: random.Random, ctx: Context) -> str:
    """One iteration; returns the outcome, raises on a property violation."""
    c = corpus()
    if prop == "bytes":
        outcome = read_outcome(draw_bytes(rng))
        assert outcome is not None, "arbitrary bytes were accepted as a bundle"
        return name_of(outcome)
    if prop in ("mutation", "import"):
        which = rng.choice(["small", "multi"] if prop == "mutation" else
                           ["first", "small", "multi"])
        source, donor = {"first": (c.first, c.small_twin), "small": (c.small, c.small_twin),
                         "multi": (c.multi, c.multi_twin)}[which]
        mutated = apply_ops(source, draw_ops(rng), donor)
        if mutated in (source, donor):  # a splice can copy the whole donor, a valid bundle
            return "skipped (unchanged)"
        if prop == "mutation":
            outcome = read_outcome(mutated)
        else:
            outcome = import_outcome(ctx.import_db, ctx.folder / "mutated.rptr", mutated)
        assert outcome is not None, "a damaged bundle was accepted"
        return name_of(outcome)
    if prop == "frames":
        return name_of(read_outcome(draw_frames(rng)))
    if prop == "manifest":
        return name_of(read_outcome(draw_manifest_bundle(rng)))
    return name_of(import_outcome(ctx.bodies_db, ctx.folder / "bodies.rptr",
                                  draw_bodies_bundle(rng)))


def where(exc: BaseException) -> str:
    """The innermost frame in reporter/ (else the innermost frame) of ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if f"{os.sep}reporter{os.sep}" in f.filename]
    f = (inside or frames)[-1]
    return f"{Path(f.filename).name}:{f.lineno} ({f.name})"


@dataclass
class Failure:
    prop: str
    kind: str
    place: str
    message: str
    first: int
    count: int = 0


@dataclass
class Tally:
    iterations: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], Failure] = field(default_factory=dict)


def open_context(folder: Path) -> Context:
    return Context(folder, prepared_review_db(folder / "import.db"),
                   ReviewDB.create(folder / "bodies.db", "a long review passphrase",
                                   kdf_profile="interactive"))


def fuzz(seconds: float, seed: int, props: tuple[str, ...],
         report: Callable[[str], None] = print) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="fuzz-bundles-") as tmp:
        ctx = open_context(Path(tmp))
        try:
            deadline = time.monotonic() + seconds
            i = 0
            next_note = time.monotonic() + 30
            while time.monotonic() < deadline:
                prop = props[i % len(props)]
                rng = random.Random(f"{seed}:{i}")
                try:
                    outcome = run_one(prop, rng, ctx)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:  # anything else is a finding
                    outcome = f"FAILURE {type(exc).__name__}"
                    key = (prop, type(exc).__name__, where(exc))
                    found = tally.failures.setdefault(key, Failure(
                        prop, type(exc).__name__, key[2], str(exc)[:160], i))
                    found.count += 1
                tally.iterations[prop] += 1
                tally.outcomes.setdefault(prop, Counter())[outcome] += 1
                i += 1
                if time.monotonic() > next_note:
                    report(f"  ... {i} iterations, {len(tally.failures)} distinct failures")
                    next_note += 30
        finally:
            ctx.import_db.close()
            ctx.bodies_db.close()
    return tally


def replay(seed: int, target: str) -> int:
    prop, _, index = target.partition(":")
    if prop not in PROPERTIES or not index.isdigit():
        raise SystemExit(f"--replay takes PROPERTY:ITERATION, PROPERTY one of {PROPERTIES}")
    with tempfile.TemporaryDirectory(prefix="fuzz-bundles-") as tmp:
        ctx = open_context(Path(tmp))
        try:
            print(run_one(prop, random.Random(f"{seed}:{index}"), ctx))
        except BaseException:
            traceback.print_exc()
            return 1
        finally:
            ctx.import_db.close()
            ctx.bodies_db.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed")
    parser.add_argument("--only", action="append", choices=PROPERTIES,
                        help="run only this property (repeatable)")
    parser.add_argument("--replay", metavar="PROPERTY:I",
                        help="rerun one iteration of --seed with its traceback")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    if args.replay:
        return replay(seed, args.replay)
    props = tuple(args.only or PROPERTIES)
    print(f"fuzz_bundles: seed {seed}, {args.seconds:g} s, properties {', '.join(props)}")
    print(f"  python {sys.version.split()[0]}; replay one iteration with "
          f"--seed {seed} --replay PROPERTY:I")
    started = time.monotonic()
    corpus()
    tally = fuzz(args.seconds, seed, props)
    elapsed = time.monotonic() - started
    total = sum(tally.iterations.values())
    print(f"\n{total} iterations in {elapsed:.0f} s ({total / elapsed:.0f}/s)")
    for prop in props:
        outcomes = ", ".join(f"{name} {n}" for name, n in tally.outcomes.get(
            prop, Counter()).most_common())
        print(f"  {prop:9} {tally.iterations[prop]:7}  {outcomes}")
    unknown = 0
    if not tally.failures:
        print("\nno failure")
    for failure in tally.failures.values():
        known = KNOWN.get((failure.prop, failure.kind))
        unknown += known is None
        label = f"known bug, xfail {known}" if known else "NEW"
        print(f"\n{label}: {failure.prop} raised {failure.kind} at {failure.place}, "
              f"{failure.count} times; first at --seed {seed} --replay "
              f"{failure.prop}:{failure.first}\n  {failure.message}")
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
