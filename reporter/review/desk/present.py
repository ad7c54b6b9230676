"""A report as the desk's pages show it: its fields with their labels, its attachments.

Pure: no request, no translation. Labels are the msgids of ``review/labels.py``
(the CLI's words), which the templates pass through gettext; values stay
exactly as the report has them (the templates show them through
``text.shown``, escaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reporter.formats import filetypes
from reporter.formats.report import AttachmentInfo, Report
from reporter.review import files, vocabulary
from reporter.review.labels import CODE_LABELS, FIELD_LABELS, field_names

# Pictures a metadata-free preview is made of (``strip.py`` decodes these; the
# station accepts no TIFF, and HEIC cannot be decoded without a plugin).
PREVIEWED = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})
# Sound and video a browser may play in ``<audio>`` / ``<video>`` (AMR and 3GP it does not).
PLAYED = {"audio/wav": "audio", "audio/mpeg": "audio", "audio/ogg": "audio",
          "audio/flac": "audio", "audio/mp4": "audio", "audio/aac": "audio",
          "video/mp4": "video", "video/webm": "video", "video/quicktime": "video"}


@dataclass(frozen=True)
class Code:
    code: str
    label: str | None  # the msgid of its label; None for a code this version does not know
    huridocs: str | None = None  # its HURIDOCS micro-thesaurus code (``vocabulary.py``)


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str  # a msgid of ``labels.FIELD_LABELS``, or the raw name of an unknown field
    known: bool  # the label is a msgid (translate it); else show the name as data
    text: str | None  # the value as text; None when not given (or for codes)
    codes: tuple[Code, ...] = ()  # for fields chosen from a list

    @property
    def given(self) -> bool:
        return self.text is not None or bool(self.codes)


# The fields whose codes map to a HURIDOCS micro-thesaurus (shown beside each code).
VOCABULARIES = {"incident_types": vocabulary.INCIDENT_TYPES,
                "perpetrators": vocabulary.PERPETRATORS}


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def field_views(report: Report) -> list[FieldView]:
    """Every field ``review show`` lists, in its order, but the description (shown on
    its own, as a text)."""
    out = []
    for name in field_names(report):
        if name == "description":
            continue
        value = report.fields.get(name)
        labels = CODE_LABELS.get(name)
        known = name in FIELD_LABELS
        label = FIELD_LABELS.get(name, name)
        if labels is not None and value not in (None, "", []):
            values = value if isinstance(value, list) else [value]
            terms = VOCABULARIES.get(name, {})
            codes = tuple(Code(str(c), labels.get(str(c)),
                               terms[str(c)].code if str(c) in terms else None)
                          for c in values)
            out.append(FieldView(name, label, known, None, codes))
        else:
            out.append(FieldView(name, label, known, _text(value)))
    return out


@dataclass(frozen=True)
class AttachmentView:
    number: int  # from 1, as in ``review attachments`` and the desk's URLs
    info: AttachmentInfo
    download_name: str  # the file's name on the reviewer's disk (``files.file_name``)
    stripped_name: str | None  # the name of its metadata-free copy, for pictures
    preview: bool
    player: str | None  # "audio", "video" or None
    claimed: str | None  # the extension its sent name claims, when it is not its type's

    @property
    def sha256(self) -> str:
        return self.info.sha256.hex()


def attachment_views(report: Report) -> list[AttachmentView]:
    out = []
    for info in report.attachments:
        preview = info.type in PREVIEWED
        out.append(AttachmentView(
            number=info.index + 1, info=info,
            download_name=files.file_name(info, info.type),
            stripped_name=files.file_name(info, info.type, stripped=True) if preview else None,
            preview=preview, player=PLAYED.get(info.type),
            claimed=files.name_disagrees(info, info.type)))
    return out


def media_type(detected: str | None) -> str:
    """What a file is sent as: its type from its own first bytes, if the project's fixed
    map knows it (``filetypes.EXTENSIONS``), else bytes of no type."""
    if detected is not None and detected in filetypes.EXTENSIONS:
        return detected
    return "application/octet-stream"
