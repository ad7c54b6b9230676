"""What the review database records of the bundles it imported, and reads back.

The stations seen, with their pinned signing keys; the histories of a station
restored from a backup; every bundle imported, with its hash, report range and
whom it was sealed to (and the recipient sets pinned per station); every
report, decrypted, with the columns reviewers filter on, its search index
entries and its attachments' links; and the reports a bundle carried that this
reviewer could not open. ``ImportRecords`` holds these reads and writes;
``ReviewDB`` (``db.py``: creating, opening and closing the database, its keys
and files) is one. Import uses the writes inside one transaction per bundle
(``importer.py``); the desk's and the CLI's queries live in ``filters.py``,
``listing.py``, ``records.py`` and ``export.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reporter.formats.manifest import ROOT_HISTORY, Restore
from reporter.formats.report import Report
from reporter.review.searchtext import body_text
from reporter.storage import sqlc


def utc_now() -> str:
    """The time now, UTC, to the second (``2026-03-14T09:26:53Z``): import times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class BundleRecord:
    station_id: bytes
    number: int
    hash: bytes
    previous: bytes | None
    first_seq: int
    last_seq: int
    chain_before: bytes
    chain_head: bytes
    reports: int
    created: str
    history: bytes = ROOT_HISTORY
    imported: str | None = None  # when it was imported (None: before schema 5)


@dataclass(frozen=True)
class HistoryRecord:
    """A restore of a station, as the first bundle that listed it recorded it."""

    station_id: bytes
    restore: Restore
    parent: bytes  # the history it forks from (ROOT_HISTORY: the station's first)
    position: int  # 1 for a restore of the first history, 2 for a restore of that, ...


@dataclass(frozen=True)
class Recipient:
    """A key a bundle was sealed to: its id always; its public key and the station's
    name for it when the bundle's format names them (version 3 on)."""

    id: bytes
    key: bytes | None = None
    name: str | None = None


def report_columns(report: Report, body: bytes | None = None) -> dict[str, Any]:
    """The searchable columns of a report (everything is also kept in ``body``).

    ``body`` is the decrypted body as it arrived, when the caller has it: it
    parsed into ``report``, so storing it saves serialising ``report`` again.
    """
    fields = report.fields
    site = fields.get("site") or fields.get("site_other") or None
    source = fields.get("source")
    perpetrators = fields.get("perpetrators")
    return {
        "kind": report.kind,
        "receipt": report.receipt,
        "follows": report.follows,
        "locale": report.locale,
        "submitted": report.submitted,
        "incident_date": fields.get("incident_date") or None,
        "site": site if isinstance(site, str) else None,
        "types": json.dumps(fields.get("incident_types") or [], ensure_ascii=False),
        "description": str(fields.get("description") or ""),
        "body": (body if body is not None else report.to_body()).decode("utf-8"),
        "source": source if isinstance(source, str) else None,
        "perpetrators": json.dumps(perpetrators if isinstance(perpetrators, list) else [],
                                   ensure_ascii=False),
        "attachment_count": len(report.attachments),
    }


class ImportRecords:
    """The review database's records of what bundles brought (``ReviewDB`` is one)."""

    _db: sqlc.Connection

    # --- stations ---------------------------------------------------------------

    def pinned_key(self, station_id: bytes) -> bytes | None:
        row = self._db.execute("SELECT verify_key FROM stations WHERE station_id = ?",
                               (station_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def pin_station(self, station_id: bytes, verify_key: bytes) -> None:
        self._db.execute("INSERT INTO stations (station_id, verify_key) VALUES (?, ?)",
                         (station_id, verify_key))

    def stations(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(a), bytes(b)) for a, b in self._db.execute(
            "SELECT station_id, verify_key FROM stations ORDER BY station_id")]

    # --- histories (schema 4) -----------------------------------------------------------

    def history(self, station_id: bytes, history: bytes) -> HistoryRecord | None:
        row = self._db.execute(
            f"SELECT {_HISTORY} FROM histories "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND history = ?",
            (station_id, history)).fetchone()
        return None if row is None else _history(row)

    def histories(self, station_id: bytes) -> list[HistoryRecord]:
        """Every restore recorded for a station, in the order of their lineage depth."""
        return [_history(row) for row in self._db.execute(
            f"SELECT {_HISTORY} FROM histories "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? ORDER BY position, restored, history", (station_id,))]

    def add_history(self, record: HistoryRecord) -> None:
        r = record.restore
        self._db.execute(
            "INSERT INTO histories (station_id, history, parent, position, bundle, bundle_hash, "
            "seq, chain, backup, restored) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (record.station_id, r.id, record.parent, record.position, r.bundle, r.bundle_hash,
             r.seq, r.chain, r.backup, r.restored))

    def lineage(self, station_id: bytes, history: bytes) -> tuple[Restore, ...]:
        """The restores that led to ``history``, oldest first (empty for the first)."""
        out: list[Restore] = []
        while history != ROOT_HISTORY:
            record = self.history(station_id, history)
            if record is None or len(out) > 64:  # not recorded (cannot happen), or a loop
                break
            out.append(record.restore)
            history = record.parent
        return tuple(reversed(out))

    # --- bundles ------------------------------------------------------------------

    def bundle(self, station_id: bytes, number: int,
               history: bytes = ROOT_HISTORY) -> BundleRecord | None:
        row = self._db.execute(
            f"SELECT {_BUNDLE} FROM bundles "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND history = ? AND number = ?",
            (station_id, history, number)).fetchone()
        return None if row is None else _bundle(row)

    def bundles(self, station_id: bytes, history: bytes | None = None) -> list[BundleRecord]:
        """A station's bundles (of one history, or of all), by number."""
        return [_bundle(row) for row in self._db.execute(
            f"SELECT {_BUNDLE} FROM bundles "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND (? IS NULL OR history = ?) ORDER BY number, history",
            (station_id, history, history))]

    def add_bundle(self, record: BundleRecord) -> None:
        """Record an imported bundle; its import time is now unless ``record`` says."""
        self._db.execute(
            "INSERT INTO bundles (station_id, history, number, hash, previous, first_seq, "
            "last_seq, chain_before, chain_head, reports, created, imported) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.station_id, record.history, record.number, record.hash, record.previous,
             record.first_seq, record.last_seq, record.chain_before, record.chain_head,
             record.reports, record.created, record.imported or utc_now()))

    def bundles_carrying(self, station_id: bytes, seq: int,
                         history: bytes = ROOT_HISTORY) -> list[BundleRecord]:
        """The imported bundles of one history of a station whose report range holds
        ``seq``, by number (a report travels again in a later ``export --all``)."""
        return [_bundle(row) for row in self._db.execute(
            f"SELECT {_BUNDLE} FROM bundles "  # noqa: S608 (a fixed column list)
            "WHERE station_id = ? AND history = ? AND first_seq <= ? AND last_seq >= ? "
            "ORDER BY number", (station_id, history, seq, seq))]

    def recipients_state(self, station_id: bytes, number: int,
                         history: bytes = ROOT_HISTORY) -> str | None:
        """How bundle ``number``'s recipients compared with the pin (``recipients.py``)."""
        row = self._db.execute(
            "SELECT recipients_state FROM bundles WHERE station_id = ? AND history = ? "
            "AND number = ?", (station_id, history, number)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    # --- recipients (schema 3) ------------------------------------------------------

    def add_bundle_recipients(self, station_id: bytes, number: int,
                              recipients: Iterable[Recipient],
                              history: bytes = ROOT_HISTORY) -> None:
        self._db.executemany(
            "INSERT INTO bundle_recipients (station_id, history, number, recipient_id, "
            "public_key, name) VALUES (?, ?, ?, ?, ?, ?)",
            [(station_id, history, number, r.id, r.key, r.name) for r in recipients])

    def bundle_recipients(self, station_id: bytes, number: int,
                          history: bytes = ROOT_HISTORY) -> list[Recipient]:
        return [_recipient(row) for row in self._db.execute(
            "SELECT recipient_id, public_key, name FROM bundle_recipients "
            "WHERE station_id = ? AND history = ? AND number = ? ORDER BY name, recipient_id",
            (station_id, history, number))]

    def set_recipients_state(self, station_id: bytes, number: int, state: str,
                             history: bytes = ROOT_HISTORY) -> None:
        self._db.execute("UPDATE bundles SET recipients_state = ? "
                         "WHERE station_id = ? AND history = ? AND number = ?",
                         (state, station_id, history, number))

    def bundles_in_state(self, state: str, station_id: bytes | None = None
                         ) -> list[tuple[bytes, int, bytes]]:
        """(station id, bundle number, history) of the bundles whose recipients are in
        ``state``."""
        return [(bytes(sid), int(n), bytes(h)) for sid, n, h in self._db.execute(
            "SELECT station_id, number, history FROM bundles WHERE recipients_state = ? "
            "AND (? IS NULL OR station_id = ?) ORDER BY station_id, number, history",
            (state, station_id, station_id))]

    def pin_recipients(self, station_id: bytes, from_bundle: int,
                       recipients: Iterable[Recipient], history: bytes = ROOT_HISTORY) -> None:
        """Pin ``recipients`` as the station's set from bundle ``from_bundle`` on."""
        self._db.execute("DELETE FROM recipient_pins WHERE station_id = ? AND history = ? "
                         "AND from_bundle = ?", (station_id, history, from_bundle))
        self._db.executemany(
            "INSERT INTO recipient_pins (station_id, history, from_bundle, recipient_id, "
            "public_key, name) VALUES (?, ?, ?, ?, ?, ?)",
            [(station_id, history, from_bundle, r.id, r.key, r.name) for r in recipients])

    def learn_recipient(self, station_id: bytes, from_bundle: int, recipient: Recipient,
                        history: bytes = ROOT_HISTORY) -> None:
        """Fill in a pinned recipient's key and name where the pin did not know them
        (pinned from a bundle of format 1 or 2, which lists ids only)."""
        self._db.execute(
            "UPDATE recipient_pins SET public_key = coalesce(public_key, ?), "
            "name = coalesce(name, ?) WHERE station_id = ? AND history = ? "
            "AND from_bundle = ? AND recipient_id = ?",
            (recipient.key, recipient.name, station_id, history, from_bundle, recipient.id))

    def pins(self, station_id: bytes, history: bytes = ROOT_HISTORY
             ) -> dict[int, list[Recipient]]:
        """Every pinned set of a station's history, by the bundle number it is valid from."""
        out: dict[int, list[Recipient]] = {}
        for from_bundle, *row in self._db.execute(
                "SELECT from_bundle, recipient_id, public_key, name FROM recipient_pins "
                "WHERE station_id = ? AND history = ? ORDER BY from_bundle, name, recipient_id",
                (station_id, history)):
            out.setdefault(int(from_bundle), []).append(_recipient(row))
        return out

    def pinned_histories(self, station_id: bytes) -> list[bytes]:
        """The histories of a station that have pins."""
        return [bytes(h) for (h,) in self._db.execute(
            "SELECT DISTINCT history FROM recipient_pins WHERE station_id = ? ORDER BY history",
            (station_id,))]

    # --- reports ------------------------------------------------------------------

    def report_hash(self, station_id: bytes, seq: int,
                    history: bytes = ROOT_HISTORY) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope_hash FROM reports WHERE station_id = ? AND history = ? "
            "AND seq = ?", (station_id, history, seq)).fetchone()
        return None if row is None else bytes(row[0])

    def add_report(self, station_id: bytes, seq: int, envelope_hash: bytes,
                   report: Report, body: bytes | None = None,
                   file_key: bytes | None = None, history: bytes = ROOT_HISTORY) -> int:
        columns = report_columns(report, body)
        cursor = self._db.execute(
            "INSERT INTO reports (station_id, history, seq, envelope_hash, kind, receipt, "
            "follows, locale, submitted, incident_date, site, types, description, body, "
            "file_key, source, perpetrators, attachment_count, imported) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (station_id, history, seq, envelope_hash, columns["kind"], columns["receipt"],
             columns["follows"], columns["locale"], columns["submitted"],
             columns["incident_date"], columns["site"], columns["types"],
             columns["description"], columns["body"], file_key, columns["source"],
             columns["perpetrators"], columns["attachment_count"], utc_now()))
        report_id = int(cursor.lastrowid or 0)
        self._index_report(report_id, columns)
        return report_id

    def _index_report(self, report_id: int, columns: dict[str, Any]) -> None:
        """What the search migration indexes, for one new report (same SQL rules)."""
        self._db.execute("INSERT INTO reports_fts (rowid, text) VALUES (?, ?)",
                         (report_id, body_text(columns["body"])))
        for field, codes in (("type", columns["types"]),
                             ("perpetrator", columns["perpetrators"])):
            self._db.execute(
                "INSERT OR IGNORE INTO report_codes (field, code, report) "
                "SELECT ?, value, ? FROM json_each(?) WHERE type = 'text'",
                (field, report_id, codes))

    def first_reports_with_receipt(self, receipt: str) -> list[tuple[int, bytes, int]]:
        """(id, station id, seq) of every first report carrying ``receipt``, oldest first."""
        return [(int(i), bytes(st), int(seq)) for i, st, seq in self._db.execute(
            "SELECT id, station_id, seq FROM reports WHERE receipt = ? AND kind = 'incident' "
            "ORDER BY id", (receipt,))]

    def holds_envelope(self, envelope_hash: bytes) -> bool:
        """Whether a (readable) report with this envelope hash was imported."""
        return self._db.execute("SELECT 1 FROM reports WHERE envelope_hash = ?",
                                (envelope_hash,)).fetchone() is not None

    # --- attachments ----------------------------------------------------------------

    def add_attachment(self, report_id: int, index: int, upload: int) -> None:
        self._db.execute("INSERT INTO attachments (report, idx, upload) VALUES (?, ?, ?)",
                         (report_id, index, upload))

    def attachment_uploads(self, report_id: int) -> dict[int, int]:
        """Index -> upload id in ``attachment_store()`` of report ``report_id``."""
        return {int(i): int(u) for i, u in self._db.execute(
            "SELECT idx, upload FROM attachments WHERE report = ? ORDER BY idx",
            (report_id,))}

    def file_key(self, report_id: int) -> bytes | None:
        row = self._db.execute("SELECT file_key FROM reports WHERE id = ?",
                               (report_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def unreadable_hash(self, station_id: bytes, seq: int,
                        history: bytes = ROOT_HISTORY) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope_hash FROM unreadable WHERE station_id = ? AND history = ? "
            "AND seq = ?", (station_id, history, seq)).fetchone()
        return None if row is None else bytes(row[0])

    def add_unreadable(self, station_id: bytes, seq: int, envelope_hash: bytes,
                       history: bytes = ROOT_HISTORY) -> None:
        self._db.execute(
            "INSERT INTO unreadable (station_id, history, seq, envelope_hash) "
            "VALUES (?, ?, ?, ?)", (station_id, history, seq, envelope_hash))

    def unreadable_between(self, station_id: bytes, first: int, last: int,
                           history: bytes = ROOT_HISTORY) -> set[int]:
        return {int(r[0]) for r in self._db.execute(
            "SELECT seq FROM unreadable WHERE station_id = ? AND history = ? "
            "AND seq BETWEEN ? AND ?", (station_id, history, first, last))}

    def forget_unreadable(self, station_id: bytes, seq: int,
                          history: bytes = ROOT_HISTORY) -> None:
        """A key imported since opens it: it becomes a report (``add_report``)."""
        self._db.execute("DELETE FROM unreadable WHERE station_id = ? AND history = ? "
                         "AND seq = ?", (station_id, history, seq))

    def unreadable_seqs(self, station_id: bytes, history: bytes = ROOT_HISTORY) -> list[int]:
        return [int(r[0]) for r in self._db.execute(
            "SELECT seq FROM unreadable WHERE station_id = ? AND history = ? ORDER BY seq",
            (station_id, history))]

    def known_hashes(self, station_id: bytes, first: int, last: int,
                     history: bytes = ROOT_HISTORY) -> dict[int, bytes]:
        """Envelope hashes already held (readable or not) for ``first..last``."""
        known: dict[int, bytes] = {}
        for table in ("reports", "unreadable"):
            for seq, h in self._db.execute(
                    f"SELECT seq, envelope_hash FROM {table} "  # noqa: S608 (fixed names)
                    "WHERE station_id = ? AND history = ? AND seq BETWEEN ? AND ?",
                    (station_id, history, first, last)):
                known[int(seq)] = bytes(h)
        return known

    def report_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM reports").fetchone()[0])

    def seqs(self, station_id: bytes, history: bytes = ROOT_HISTORY) -> Iterator[int]:
        for (seq,) in self._db.execute(
                "SELECT seq FROM reports WHERE station_id = ? AND history = ? ORDER BY seq",
                (station_id, history)):
            yield int(seq)


def _recipient(row: Any) -> Recipient:
    return Recipient(id=bytes(row[0]), key=None if row[1] is None else bytes(row[1]),
                     name=None if row[2] is None else str(row[2]))


_BUNDLE = ("station_id, number, hash, previous, first_seq, last_seq, chain_before, "
           "chain_head, reports, created, history, imported")
_HISTORY = ("station_id, history, parent, position, bundle, bundle_hash, seq, chain, backup, "
            "restored")


def _bundle(row: Any) -> BundleRecord:
    return BundleRecord(
        station_id=bytes(row[0]), number=int(row[1]), hash=bytes(row[2]),
        previous=None if row[3] is None else bytes(row[3]), first_seq=int(row[4]),
        last_seq=int(row[5]), chain_before=bytes(row[6]), chain_head=bytes(row[7]),
        reports=int(row[8]), created=str(row[9]), history=bytes(row[10]),
        imported=None if row[11] is None else str(row[11]))


def _history(row: Any) -> HistoryRecord:
    restore = Restore(id=bytes(row[1]), bundle=int(row[4]),
                      bundle_hash=None if row[5] is None else bytes(row[5]), seq=int(row[6]),
                      chain=bytes(row[7]), backup=str(row[8]), restored=str(row[9]))
    return HistoryRecord(bytes(row[0]), restore, parent=bytes(row[2]), position=int(row[3]))
