"""The station's SQLCipher database: the report log, recipients, sites, bundles.

Its schema and migrations are ``schema.py`` (spec: ``docs/instance-format.md``).

The whole file is encrypted by SQLCipher under a raw 32-byte key (derived
once from the operator's passphrase by ``instance.py``), so even the list of
recipients and sites is unreadable without the passphrase. On top of that,
reports are sealed envelopes: the station cannot read them even unlocked.

The ``reports`` table is an append-only log: a sequence number, the envelope,
its size and a hash chain over every envelope so far. Bundles (a later issue)
carry the chain head so reviewers can prove nothing was dropped, reordered or
inserted. No row holds an IP address, a user agent or a time.

Durability: WAL with ``synchronous=FULL``, so a report is on disk when
``append_report`` returns, before the monitor sees a receipt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reporter.errors import (
    ChainBroken,
    DuplicateRecipient,
    InstanceError,
    StoreError,
    TooManyRecipients,
    UnknownRecipient,
)
from reporter.formats.bundle import MAX_RECIPIENTS as BUNDLE_MAX_RECIPIENTS
from reporter.formats.chain import chain_link, chain_link_hashed, envelope_hash, genesis
from reporter.formats.crypto import RecipientPublicKey
from reporter.formats.envelope import MAX_RECIPIENTS as ENVELOPE_MAX_RECIPIENTS
from reporter.formats.manifest import Restore
from reporter.station.schema import MIGRATIONS, SCHEMA_VERSION
from reporter.storage import sqlc

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store"]

MAX_NAME_CHARS = 200
# Every report is sealed to every reviewer, and every bundle too.
MAX_RECIPIENTS = min(ENVELOPE_MAX_RECIPIENTS, BUNDLE_MAX_RECIPIENTS)


def too_many_recipients(count: int) -> str:
    return (f"{count} reviewer keys is more than an envelope can be sealed to "
            f"({MAX_RECIPIENTS}); remove one first with 'reporter recipients remove NAME'")


def check_recipient_count(count: int) -> None:
    """Refuse a recipient list no report could be sealed to (``TooManyRecipients``)."""
    if count > MAX_RECIPIENTS:
        raise TooManyRecipients(too_many_recipients(count))




@dataclass(frozen=True)
class Recipient:
    name: str
    public_key: RecipientPublicKey


@dataclass(frozen=True)
class ExportedBundle:
    number: int
    first_seq: int
    last_seq: int
    hash: bytes
    written: bool
    purged: bool


@dataclass(frozen=True)
class PurgeResult:
    through_bundle: int
    through_seq: int
    erased: int
    wal_truncated: bool  # False if another connection (a running server) held the WAL
    # Envelopes erased: their attachments (attachments.db) are erased next.
    envelope_hashes: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class StoredReport:
    seq: int
    envelope: bytes | None  # None once purged
    size: int
    chain: bytes


class Store:
    """An open, keyed connection to the station database."""

    def __init__(self, connection: sqlc.Connection) -> None:
        self._db = connection

    # --- opening ---------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key: bytes, *, create: bool = False) -> Store:
        """Open (or with ``create``, make) the database at ``path`` with a raw key.

        The caller has already checked the key against the instance's key
        check, so a failure to read here means the file itself is damaged.
        """
        if not create and not path.is_file():
            raise InstanceError(f"no station database at {path}; run 'reporter init' first")
        db = sqlc.connect(path, key, create=create, owner="station")
        try:
            sqlc.migrate(db, MIGRATIONS)
        except BaseException:
            db.close()
            raise
        return cls(db)

    def limit_cache(self, kib: int) -> None:
        """Cap this connection's page cache (a kept reader needs little)."""
        self._db.execute(f"PRAGMA cache_size = -{int(kib)}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return sqlc.schema_version(self._db)

    def _write(self) -> sqlc.Transaction:
        return sqlc.Transaction(self._db)

    # --- settings --------------------------------------------------------

    def get_setting(self, name: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def require_setting(self, name: str) -> bytes:
        value = self.get_setting(name)
        if value is None:
            raise InstanceError(f"the station database has no '{name}' setting; it is damaged")
        return value

    def set_setting(self, name: str, value: bytes) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def delete_setting(self, name: str) -> bool:
        """Remove a setting; whether it was there."""
        with self._write() as db:
            return int(db.execute("DELETE FROM settings WHERE name = ?", (name,)).rowcount) > 0

    def settings_named(self, prefix: str) -> list[tuple[str, bytes]]:
        """(name, value) of every setting whose name starts with ``prefix``, by name."""
        return [(str(n), bytes(v)) for n, v in self._db.execute(
            "SELECT name, value FROM settings WHERE substr(name, 1, ?) = ? ORDER BY name",
            (len(prefix), prefix))]

    # --- recipients ------------------------------------------------------

    def add_recipient(self, name: str, key: RecipientPublicKey) -> None:
        """Add a reviewer; refused if the name or key is listed, or the list is full.

        An envelope and a bundle are sealed to at most ``MAX_RECIPIENTS`` keys:
        a 65th would let the operator add it and then make every submission fail.
        """
        name = _clean_name(name, "recipient")
        with self._write() as db:
            existing = db.execute("SELECT name, public_key FROM recipients").fetchall()
            for existing_name, existing_key in existing:
                if existing_name == name:
                    raise DuplicateRecipient(f"a recipient named {name!r} already exists")
                if bytes(existing_key) == key.raw:
                    raise DuplicateRecipient(
                        f"this key is already on the list as {existing_name!r}"
                    )
            if len(existing) >= MAX_RECIPIENTS:
                raise TooManyRecipients(too_many_recipients(len(existing) + 1))
            db.execute("INSERT INTO recipients (name, public_key) VALUES (?, ?)",
                       (name, key.raw))

    def remove_recipient(self, name: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM recipients WHERE name = ?", (name,)).rowcount == 0:
                raise UnknownRecipient(
                    f"no recipient named {name!r}; 'reporter recipients list' shows the names"
                )

    def recipients(self) -> list[Recipient]:
        return [
            Recipient(name, RecipientPublicKey(bytes(raw)))
            for name, raw in self._db.execute(
                "SELECT name, public_key FROM recipients ORDER BY name"
            )
        ]

    # --- mine sites -----------------------------------------------------

    def add_site(self, name: str) -> None:
        name = _clean_name(name, "site")
        with self._write() as db:
            if db.execute("SELECT 1 FROM sites WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"the site {name!r} is already on the list")
            db.execute("INSERT INTO sites (name) VALUES (?)", (name,))

    def remove_site(self, name: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM sites WHERE name = ?", (name,)).rowcount == 0:
                raise StoreError(f"no site named {name!r}; 'reporter sites list' shows them")

    def sites(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT name FROM sites ORDER BY name")]

    # --- the report log ----------------------------------------------------

    def append_report(self, envelope: bytes, station_id: bytes) -> int:
        """Append one envelope; return its sequence number once it is durable."""
        return self.append_reports([envelope], station_id)[0]

    def append_reports(self, envelopes: list[bytes], station_id: bytes) -> list[int]:
        """Append envelopes in order, in one transaction; durable when this returns."""
        seqs = []
        with self._write() as db:
            row = db.execute(
                "SELECT seq, chain FROM reports ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, previous = (0, genesis(station_id)) if row is None else (
                int(row[0]), bytes(row[1]))
            for envelope in envelopes:
                seq += 1
                hashed = envelope_hash(envelope)
                previous = chain_link_hashed(previous, seq, hashed)
                db.execute(
                    "INSERT INTO reports (seq, envelope, size, chain, hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (seq, envelope, len(envelope), previous, hashed),
                )
                seqs.append(seq)
        return seqs

    def holds_envelope(self, hashed: bytes) -> bool:
        """Whether a report with this envelope hash is stored and not purged."""
        return self._db.execute(
            "SELECT 1 FROM reports WHERE hash = ? AND envelope IS NOT NULL", (hashed,)
        ).fetchone() is not None

    def report_count(self) -> int:
        """Reports whose ciphertext the station still holds."""
        return int(self._db.execute(
            "SELECT count(*) FROM reports WHERE envelope IS NOT NULL").fetchone()[0])

    def unexported_count(self) -> int:
        """Reports held that no written bundle has carried yet (the next bundle's)."""
        return int(self._db.execute(
            "SELECT count(*) FROM reports WHERE envelope IS NOT NULL AND seq > "
            "(SELECT coalesce(max(last_seq), 0) FROM bundles WHERE written = 1)").fetchone()[0])

    def purged_count(self) -> int:
        return int(self._db.execute(
            "SELECT count(*) FROM reports WHERE envelope IS NULL").fetchone()[0])

    def first_held_seq(self) -> int | None:
        row = self._db.execute("SELECT min(seq) FROM reports WHERE envelope IS NOT NULL")
        value = row.fetchone()[0]
        return None if value is None else int(value)

    def stored_bytes(self) -> int:
        return int(self._db.execute(
            "SELECT coalesce(sum(size), 0) FROM reports WHERE envelope IS NOT NULL"
        ).fetchone()[0])

    def reports(self, after: int = 0) -> Iterator[StoredReport]:
        """Stored reports in sequence order, read in pages to keep memory flat."""
        while True:
            rows = self._db.execute(
                "SELECT seq, envelope, size, chain FROM reports WHERE seq > ? "
                "ORDER BY seq LIMIT 256",
                (after,),
            ).fetchall()
            if not rows:
                return
            for seq, envelope, size, chain in rows:
                yield StoredReport(int(seq), None if envelope is None else bytes(envelope),
                                   int(size), bytes(chain))
            after = rows[-1][0]

    def last_seq(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM reports").fetchone()[0])

    def chain_at(self, seq: int, station_id: bytes) -> bytes:
        """The chain value after report ``seq`` (the genesis value for 0)."""
        if seq == 0:
            return genesis(station_id)
        row = self._db.execute("SELECT chain FROM reports WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise ChainBroken(f"report {seq} is missing from the log")
        return bytes(row[0])

    # --- bundles -------------------------------------------------------------------

    def bundles(self) -> list[ExportedBundle]:
        return [ExportedBundle(int(n), int(a), int(b), bytes(h), bool(w), bool(p))
                for n, a, b, h, w, p in self._db.execute(
                    "SELECT number, first_seq, last_seq, hash, written, purged "
                    "FROM bundles ORDER BY number")]

    def unwritten_bundles(self) -> list[tuple[int, str]]:
        """(number, path) of reservations an interrupted export left behind."""
        return [(int(n), str(p)) for n, p in self._db.execute(
            "SELECT number, coalesce(path, '') FROM bundles WHERE written = 0 ORDER BY number")]

    def reserve_bundle(self, number: int, first_seq: int, last_seq: int, hash_: bytes,
                       path: str = "") -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM bundles WHERE number = ?", (number,)).fetchone():
                raise StoreError(f"bundle {number} is already taken (another export is running?)")
            db.execute("INSERT INTO bundles (number, first_seq, last_seq, hash, path) "
                       "VALUES (?, ?, ?, ?, ?)", (number, first_seq, last_seq, hash_, path))

    def mark_bundle_written(self, number: int) -> None:
        with self._write() as db:
            db.execute("UPDATE bundles SET written = 1 WHERE number = ?", (number,))

    def purge_through(self, number: int) -> PurgeResult:
        """Erase the ciphertext of every report in written bundles up to ``number``.

        ``secure_delete`` overwrites the freed space, ``VACUUM`` rebuilds the
        file without it, and a ``TRUNCATE`` checkpoint empties the WAL, whose
        old frames would still hold the erased pages.
        """
        written = [b for b in self.bundles() if b.written]
        target = next((b for b in written if b.number == number), None)
        if target is None:
            raise StoreError(
                f"bundle {number} was never exported from this station; "
                f"exported bundles: {', '.join(str(b.number) for b in written) or 'none'}")
        through = max(b.last_seq for b in written if b.number <= number)
        with self._write() as db:
            hashes = [bytes(r[0]) for r in db.execute(
                "SELECT hash FROM reports WHERE seq <= ? AND envelope IS NOT NULL "
                "AND hash IS NOT NULL", (through,))]
            erased = int(db.execute(
                "UPDATE reports SET envelope = NULL WHERE seq <= ? AND envelope IS NOT NULL",
                (through,)).rowcount)
            db.execute("UPDATE bundles SET purged = 1 WHERE number <= ?", (number,))
        try:
            self._db.execute("VACUUM")
            busy = int(self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        except sqlc.Error as exc:
            raise sqlc.unavailable(exc) from None
        return PurgeResult(number, through, erased, wal_truncated=busy == 0,
                           envelope_hashes=tuple(hashes))

    def forget_bundle(self, number: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM bundles WHERE number = ? AND written = 0", (number,))

    def forget_unwritten_bundles(self) -> int:
        """Drop every reservation an unfinished export left (a restore does: what the
        station it replaces did with them is not this history's); how many."""
        with self._write() as db:
            return int(db.execute("DELETE FROM bundles WHERE written = 0").rowcount)

    # --- restores --------------------------------------------------------------------

    def restores(self) -> tuple[Restore, ...]:
        """The station's restores from backups, oldest first (empty: never restored)."""
        return tuple(
            Restore(id=bytes(i), bundle=int(b), bundle_hash=None if h is None else bytes(h),
                    seq=int(q), chain=bytes(c), backup=str(d), restored=str(r))
            for i, b, h, q, c, d, r in self._db.execute(
                "SELECT id, bundle, bundle_hash, seq, chain, backup, restored "
                "FROM restores ORDER BY position"))

    def add_restore(self, restore: Restore) -> None:
        with self._write() as db:
            db.execute("INSERT INTO restores (position, id, bundle, bundle_hash, seq, chain, "
                       "backup, restored) VALUES ((SELECT coalesce(max(position), 0) + 1 "
                       "FROM restores), ?, ?, ?, ?, ?, ?, ?)",
                       (restore.id, restore.bundle, restore.bundle_hash, restore.seq,
                        restore.chain, restore.backup, restore.restored))

    def held_hashes(self) -> list[bytes]:
        """The envelope hashes of every report held (not purged), in sequence order."""
        return [bytes(r[0]) for r in self._db.execute(
            "SELECT hash FROM reports WHERE envelope IS NOT NULL AND hash IS NOT NULL "
            "ORDER BY seq")]

    def integrity_problem(self) -> str | None:
        """What is damaged in the file (every page's HMAC, then the b-trees), or ``None``."""
        return sqlc.integrity_problem(self._db)

    def use_wal(self) -> None:
        """Put the file in WAL mode (a ``VACUUM INTO`` copy is made in rollback mode)."""
        self._db.execute("PRAGMA journal_mode = WAL").fetchone()

    def snapshot_to(self, path: Path) -> None:
        """A consistent copy of the whole database in a new file at ``path``, encrypted
        under the same key (``VACUUM INTO``: one read transaction, so writers go on;
        the copy holds no free page and no write-ahead log)."""
        try:
            self._db.execute("VACUUM INTO ?", (str(path),))
        except sqlc.Error as exc:
            raise sqlc.unavailable(exc) from None

    def verify_chain(self, station_id: bytes) -> bytes:
        """Recompute the hash chain; return its head or raise ``ChainBroken``."""
        previous = genesis(station_id)
        expected_seq = 1
        for report in self.reports():
            if report.seq != expected_seq:
                raise ChainBroken(f"report {expected_seq} is missing from the log")
            expected_seq += 1
            if report.envelope is None:
                # Purged after export: its link was verified by the reviewers'
                # import; carry on from the stored value.
                previous = report.chain
                continue
            if report.size != len(report.envelope):
                raise ChainBroken(f"report {report.seq} does not have its recorded size")
            link = chain_link(previous, report.seq, report.envelope)
            if link != report.chain:
                raise ChainBroken(f"the hash chain breaks at report {report.seq}")
            previous = link
        return previous


def _clean_name(name: str, what: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise StoreError(f"a {what} name cannot be empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise StoreError(f"a {what} name has at most {MAX_NAME_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise StoreError(f"a {what} name cannot contain control characters")
    return cleaned


def clean_name(name: str, what: str) -> str:
    """A name as the station stores it (spaces folded), or ``StoreError`` naming the rule."""
    return _clean_name(name, what)
