"""Read source files into Documents: UTF-8 text exactly as stored, with a stable doc_id."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md")
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


def decode_text(raw: bytes, name: str) -> str:
    """Decode UTF-8 text without normalising it; reject binaries and other encodings."""
    if b"\x00" in raw[:8192]:
        raise IngestError(f"{name}: looks like a binary file, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: not valid UTF-8 (byte {exc.start})") from None
    # A BOM is not part of the text users see; dropping it keeps offsets aligned with what is displayed.
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise IngestError(f"{name}: the file is empty")
    return text


def validate_doc_id(doc_id: str) -> str:
    if len(doc_id) > MAX_DOC_ID_CHARS:
        raise IngestError(f"invalid doc_id {shown(doc_id)!r}: {len(doc_id):,} characters long; the limit is {MAX_DOC_ID_CHARS}")
    parts = doc_id.replace("\\", "/").split("/")
    if not doc_id or doc_id.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise IngestError(f"invalid doc_id {doc_id!r}: use a relative name without '..'")
    if any(ord(c) < 32 for c in doc_id):
        raise IngestError(f"invalid doc_id {doc_id!r}: control characters are not allowed")
    return "/".join(parts)


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    """Expand files and folders into (file, doc_id) pairs; doc_id is relative to the folder given."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        try:
            exists = path.exists()
        except OSError as exc:  # e.g. a name longer than the file system allows
            raise IngestError(f"{shown(path)}: {exc.strerror or exc}") from None
        if not exists:
            raise IngestError(f"{shown(path)}: no such file or directory")
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                rel = file.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if file.is_file() and file.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((file, rel.as_posix()))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append((path, path.name))
        else:
            raise IngestError(f"{shown(path)}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    return found


def read_document(path: Path, doc_id: str, max_bytes: int | None = None) -> Document:
    """The file's text; one over `max_bytes` is refused from its size, before it is read."""
    doc_id = validate_doc_id(doc_id)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(f"{shown(path)}: {size:,} bytes; the limit for one document is {max_bytes:,} (RAG_MAX_UPLOAD_BYTES)")
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{shown(path)}: cannot read ({exc.strerror or exc})") from None
    return Document(doc_id=doc_id, text=decode_text(raw, shown(path)), source=str(path))


def load_documents(paths: list[Path], max_bytes: int | None = None) -> list[Document]:
    """All documents under `paths`, read and validated before anything is indexed."""
    files = discover(paths)
    if not files:
        raise IngestError("no .txt or .md files found in " + ", ".join(shown(p) for p in paths))
    docs = [read_document(file, doc_id, max_bytes) for file, doc_id in files]
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.doc_id in seen:
            raise IngestError(f"two files share doc_id {doc.doc_id!r}: {seen[doc.doc_id]} and {doc.source}")
        seen[doc.doc_id] = doc.source
    return docs
