"""A Document (a stable doc_id and its text exactly as stored) and the one-line errors every way in raises."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_DOC_ID_CHARS = 255  # also the longest file name most file systems allow


class IngestError(ValueError):
    """A file that cannot be indexed; the message is one readable line."""


class TooLarge(IngestError):
    """Over a configured size limit (bytes, PDF pages, extraction time, chunks): HTTP 413."""


def shown(name: str, keep: int = 80) -> str:
    """A name as error messages print it: a 10,000-character file name would make the line unreadable."""
    name = str(name)
    if len(name) <= keep:
        return name
    return f"{name[:keep - 20]}…{name[-12:]} ({len(name):,} characters)"


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    source: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def validate_doc_id(doc_id: str) -> str:
    if len(doc_id) > MAX_DOC_ID_CHARS:
        raise IngestError(f"invalid doc_id {shown(doc_id)!r}: {len(doc_id):,} characters long; the limit is {MAX_DOC_ID_CHARS}")
    parts = doc_id.replace("\\", "/").split("/")
    if not doc_id or doc_id.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise IngestError(f"invalid doc_id {doc_id!r}: use a relative name without '..'")
    if any(ord(c) < 32 for c in doc_id):
        raise IngestError(f"invalid doc_id {doc_id!r}: control characters are not allowed")
    return "/".join(parts)
