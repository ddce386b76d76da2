"""Files and folders into Documents for `rag index`: the same extraction and checks as an upload (index.extract),
with a stable doc_id (the path relative to the folder given)."""
from __future__ import annotations

from pathlib import Path

from index.document import Document, IngestError, TooLarge, shown, validate_doc_id
from index.extract import UPLOAD_SUFFIXES, ExtractLimits, extract_text

SHOWN_SKIPPED = 5  # names a one-line report lists before "and N more"


class Loaded(list):
    """The Documents read, in order; `skipped`: files in the folders given whose type is not supported."""

    def __init__(self, documents: list[Document], skipped: list[str]):
        super().__init__(documents)
        self.skipped = skipped


def skipped_note(skipped: list[str]) -> str:
    """'skipped 2 unsupported files: a.docx, b.png', at most SHOWN_SKIPPED names: it stays one line."""
    names = ", ".join(shown(name, 60) for name in skipped[:SHOWN_SKIPPED])
    more = f" and {len(skipped) - SHOWN_SKIPPED:,} more" if len(skipped) > SHOWN_SKIPPED else ""
    return f"skipped {len(skipped):,} unsupported file{'' if len(skipped) == 1 else 's'}: {names}{more}"


def _scan(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, doc_id) pairs, doc_id relative to the folder given, and the unsupported files skipped in folders."""
    found: list[tuple[Path, str]] = []
    skipped: list[str] = []
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
                    continue  # hidden files and folders (.git, .DS_Store) are not documents: not worth a mention
                if not file.is_file():
                    continue
                if file.suffix.lower() in UPLOAD_SUFFIXES:
                    found.append((file, rel.as_posix()))
                else:
                    skipped.append(rel.as_posix())
        elif path.suffix.lower() in UPLOAD_SUFFIXES:
            found.append((path, path.name))
        else:  # named explicitly: the user meant it, so it is an error rather than a skip
            raise IngestError(f"{shown(path)}: unsupported file type (supported: {', '.join(UPLOAD_SUFFIXES)})")
    return found, skipped


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    """Expand files and folders into (file, doc_id) pairs; doc_id is relative to the folder given."""
    return _scan(paths)[0]


def read_document(path: Path, doc_id: str, max_bytes: int | None = None,
                  limits: ExtractLimits = ExtractLimits()) -> Document:
    """The file's text, extracted as an upload's is; over `max_bytes`, refused from its size before it is read."""
    doc_id = validate_doc_id(doc_id)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(f"{shown(path)}: {size:,} bytes; the limit for one document is {max_bytes:,} (RAG_MAX_UPLOAD_BYTES)")
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{shown(path)}: cannot read ({exc.strerror or exc})") from None
    return Document(doc_id=doc_id, text=extract_text(raw, str(path), limits=limits), source=str(path))


def load_documents(paths: list[Path], max_bytes: int | None = None, limits: ExtractLimits = ExtractLimits()) -> Loaded:
    """All documents under `paths`, read and validated before anything is indexed (a list, with `.skipped`)."""
    files, skipped = _scan(paths)
    if not files:
        where = ", ".join(shown(p) for p in paths)
        note = f"; {skipped_note(skipped)}" if skipped else ""
        raise IngestError(f"no supported files ({', '.join(UPLOAD_SUFFIXES)}) found in {where}{note}")
    docs = [read_document(file, doc_id, max_bytes, limits) for file, doc_id in files]
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.doc_id in seen:
            raise IngestError(f"two files share doc_id {doc.doc_id!r}: {seen[doc.doc_id]} and {doc.source}")
        seen[doc.doc_id] = doc.source
    return Loaded(docs, skipped)
