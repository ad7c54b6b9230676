"""One exception tree for everything a user can meet.

Every failure a person can act on has its own class, and its message names
what failed and what to do about it. The CLI prints ``str(error)`` and exits
with ``error.exit_code``; the web layer turns these into translated pages.
Nothing outside this tree is allowed to reach a user (a test checks that the
CLI and the web app never show a traceback).

Messages never contain report content: they may end up in an operator's
terminal scroll-back or a log.
"""

from __future__ import annotations


class ReporterError(Exception):
    """Root of every error the project raises on purpose."""

    exit_code = 1


# --- configuration and instance -------------------------------------------


class ConfigError(ReporterError):
    """A setting is missing or invalid; the message names it and the fix."""


class InstanceError(ReporterError):
    """The instance folder is missing, incomplete or damaged."""


class InstanceExists(InstanceError):
    """``reporter init`` would overwrite an existing station."""


# --- secrets ----------------------------------------------------------------


class PassphraseError(ReporterError):
    """A passphrase is missing, too weak, or could not be read."""


class WrongPassphrase(PassphraseError):
    """The passphrase does not open the station database or the key file."""


# --- keys -------------------------------------------------------------------


class KeyMaterialError(ReporterError):
    """Base for problems with keys (public keys, key files, the recipient list)."""


class InvalidPublicKey(KeyMaterialError):
    """A pasted public key is malformed, has the wrong prefix or a bad checksum."""


class KeyFileError(KeyMaterialError):
    """A key file is unreadable, of an unknown version, or damaged."""


class DuplicateRecipient(KeyMaterialError):
    """The recipient name or key is already on the station's list."""


class UnknownRecipient(KeyMaterialError):
    """No recipient of that name is on the station's list."""


class NoRecipients(KeyMaterialError):
    """The station has no reviewer key to seal reports to."""


class TooManyRecipients(KeyMaterialError):
    """More reviewer keys than an envelope or a bundle can be sealed to (64)."""


# --- formats ----------------------------------------------------------------


class FormatError(ReporterError):
    """Base for anything wrong with a sealed file or envelope."""


class UnknownVersion(FormatError):
    """The data declares a format version this program does not read."""


class Truncated(FormatError):
    """The data ends before the format says it should."""


class Malformed(FormatError):
    """The data's structure is wrong (bad magic, bad lengths, trailing bytes)."""


class NotARecipient(FormatError):
    """The data is not addressed to the key that tried to open it."""


class Tampered(FormatError):
    """Authentication failed: the data was altered after it was sealed."""


class ForeignStation(FormatError):
    """A bundle claims a known station but is signed by another key."""


class BundleConflict(FormatError):
    """A bundle contradicts what was already imported (same number, other content)."""


class BackupDamaged(FormatError):
    """A backup file is cut short, altered, or not a backup at all."""


class NothingToExport(ReporterError):
    """No report arrived since the last bundle."""

    exit_code = 0


# --- the store --------------------------------------------------------------


class StoreError(ReporterError):
    """Base for problems with the station database."""


class StoreUnavailable(StoreError):
    """The database is locked, read-only, or the disk is full; nothing was written."""


class DatabaseUnreadable(StoreError):
    """The database file cannot be read with the station's key: it is damaged
    or belongs to another station (a wrong passphrase is caught earlier)."""


class ChainBroken(StoreError):
    """The hash chain over stored reports does not verify."""


class SchemaTooNew(StoreError):
    """The database was written by a newer version of reporter."""


# --- the report form ---------------------------------------------------------


class InvalidReceipt(ReporterError):
    """A receipt code is malformed or fails its checksum (probably mistyped)."""


class InvalidReport(ReporterError):
    """A decrypted report does not follow the report schema."""


# --- the onion service ---------------------------------------------------------


class TorError(ReporterError):
    """Tor is missing, would not start, or refused what the station asked of it;
    the message says what to install or check."""


class TorNotFound(TorError):
    """No ``tor`` program (or a pluggable transport the bridges need) is installed."""


class TorControlError(TorError):
    """The Tor control port or socket cannot be reached or will not let us in."""


class OnionClientError(ReporterError):
    """An onion-service client (v3 client authorization) is unknown, duplicated or invalid."""
