"""Read source files into Documents: UTF-8 text exactly as stored, with a stable doc_id."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md")


class IngestError(ValueError):
    """A file that cannot be indexed; the message is one readable line."""


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
    parts = doc_id.replace("\\", "/").split("/")
    if not doc_id or doc_id.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise IngestError(f"invalid doc_id {doc_id!r}: use a relative name without '..'")
    if len(doc_id) > 255 or any(ord(c) < 32 for c in doc_id):
        raise IngestError(f"invalid doc_id {doc_id!r}")
    return "/".join(parts)


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    """Expand files and folders into (file, doc_id) pairs; doc_id is relative to the folder given."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if not path.exists():
            raise IngestError(f"{path}: no such file or directory")
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
            raise IngestError(f"{path}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    return found


def read_document(path: Path, doc_id: str) -> Document:
    return Document(doc_id=validate_doc_id(doc_id), text=decode_text(path.read_bytes(), str(path)), source=str(path))


def load_documents(paths: list[Path]) -> list[Document]:
    """All documents under `paths`, read and validated before anything is indexed."""
    files = discover(paths)
    if not files:
        raise IngestError("no .txt or .md files found in " + ", ".join(str(p) for p in paths))
    docs = [read_document(file, doc_id) for file, doc_id in files]
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.doc_id in seen:
            raise IngestError(f"two files share doc_id {doc.doc_id!r}: {seen[doc.doc_id]} and {doc.source}")
        seen[doc.doc_id] = doc.source
    return docs
