"""On-disk index: manifest, documents, chunks and FAISS vectors, written atomically.

Layout: `INDEX_DIR/CURRENT` names the live generation folder (`gen-000042/`). A save writes a complete new
generation beside it, then replaces CURRENT with os.replace: readers see the old index or the new one, never half
of either, and a crash mid-write leaves the old one intact.
"""
from __future__ import annotations

import errno
import fcntl
import functools
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from index.chunk import Chunk
from index.sentence_index import SentenceIndex
from index.vectors import VectorIndex

FORMAT_VERSION = 1


class IndexError_(RuntimeError):
    """Base for index problems reported to users as one line."""


class IndexMissing(IndexError_):
    pass


class ManifestMismatch(IndexError_):
    pass


class IndexWriteError(IndexError_):
    """A save that could not be written (disk full, file too large, read-only): the previous generation stays live."""


@dataclass
class Manifest:
    embedder: str
    dimension: int
    chunker: dict
    format_version: int = FORMAT_VERSION
    next_id: int = 0
    # Whether every document's sentence vectors are stored (index/sentence_index.py). Indexes written before they
    # existed say False: they keep working, and evidence selection embeds their sentences per question.
    sentences: bool = False

    def check_compatible(self, embedder: str, dimension: int, chunker: dict, where: Path) -> None:
        if self.format_version != FORMAT_VERSION:
            raise ManifestMismatch(
                f"{where} has index format {self.format_version}, this version reads {FORMAT_VERSION}: re-index into a new --index-dir"
            )
        if self.embedder != embedder:
            raise ManifestMismatch(
                f"{where} was built with embedder={self.embedder!r}, but the current setting is {embedder!r}; "
                f"set RAG_EMBEDDER={self.embedder} to use this index, or index into a new --index-dir"
            )
        wanted = {"dimension": dimension, "chunker": chunker}
        for key, value in wanted.items():
            if getattr(self, key) != value:
                raise ManifestMismatch(
                    f"{where} was built with {key}={getattr(self, key)!r}, but the current setting is {value!r}; "
                    "use the same settings or index into a new --index-dir"
                )


@dataclass
class DocRecord:
    doc_id: str
    sha256: str
    text: str
    source: str = ""
    chunk_ids: list[int] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return len(self.text)

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_ids)


# Causes worth naming in one line; anything else is reported by its own strerror.
_WRITE_CAUSES = {errno.ENOSPC: "disk full", errno.EFBIG: "file too large", errno.EDQUOT: "disk quota exceeded",
                 errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EIO: "I/O error"}


def _write_cause(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in _WRITE_CAUSES:
        return _WRITE_CAUSES[exc.errno]
    message = str(exc)  # faiss reports "... index_write.cpp:499: ... write error in PATH: 0 != 1536 (File too large)"
    for code, cause in _WRITE_CAUSES.items():
        if os.strerror(code) in message:
            return cause
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else "write failed"


def _plain_write_errors(save):
    """OS and faiss write failures become one line naming the folder and the cause, without library internals."""

    @functools.wraps(save)
    def wrapper(self: "IndexStore") -> None:
        try:
            save(self)
        except (OSError, RuntimeError) as exc:
            raise IndexWriteError(f"cannot write the index to {self.root}: {_write_cause(exc)}; "
                                  "the previous index is unchanged") from None

    return wrapper


class IndexStore:
    def __init__(self, root: Path, manifest: Manifest):
        self.root = Path(root)
        self.manifest = manifest
        self.docs: dict[str, DocRecord] = {}
        self.chunks: dict[int, Chunk] = {}
        self.vectors = VectorIndex(manifest.dimension)
        self.sentences = SentenceIndex(manifest.dimension)
        self.generation = 0

    # ---- opening -------------------------------------------------------------------------------------------------
    @staticmethod
    def exists(root: Path) -> bool:
        return (Path(root) / "CURRENT").is_file()

    @classmethod
    def open(cls, root: Path) -> "IndexStore":
        root = Path(root)
        if not cls.exists(root):
            raise IndexMissing(f"no index at {root}: run `rag index PATH --index-dir {root}` first")
        name = (root / "CURRENT").read_text().strip()
        gen_dir = root / name
        try:
            manifest = Manifest(**json.loads((gen_dir / "manifest.json").read_text()))
        except (OSError, TypeError, ValueError) as exc:
            raise IndexError_(f"{gen_dir}: unreadable manifest ({exc})") from None
        store = cls(root, manifest)
        store.generation = int(name.split("-")[1])
        with open(gen_dir / "docs.jsonl", encoding="utf-8") as fh:
            for line in fh:
                rec = DocRecord(**json.loads(line))
                store.docs[rec.doc_id] = rec
        with open(gen_dir / "chunks.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                chunk_number = row.pop("id")
                store.chunks[chunk_number] = Chunk(**row)
        store.vectors = VectorIndex.read(gen_dir / "vectors.faiss", manifest.dimension)
        if manifest.sentences:
            store.sentences = SentenceIndex.read(gen_dir, manifest.dimension)
        return store

    @classmethod
    def open_or_create(cls, root: Path, embedder: str, dimension: int, chunker: dict) -> "IndexStore":
        if cls.exists(root):
            store = cls.open(root)
            store.manifest.check_compatible(embedder, dimension, chunker, Path(root))
            return store
        return cls(Path(root), Manifest(embedder=embedder, dimension=dimension, chunker=chunker, sentences=True))

    # ---- reading ---------------------------------------------------------------------------------------------------
    def text_of(self, doc_id: str) -> str:
        return self.docs[doc_id].text

    def chunk_rows(self) -> list[tuple[int, Chunk]]:
        return sorted(self.chunks.items())

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.vectors.search(query, k)

    # ---- updating --------------------------------------------------------------------------------------------------
    def is_unchanged(self, doc_id: str, sha256: str) -> bool:
        rec = self.docs.get(doc_id)
        return rec is not None and rec.sha256 == sha256

    def upsert(self, doc_id: str, sha256: str, text: str, source: str, chunks: list[Chunk], vectors: np.ndarray,
               sentence_spans: list[tuple[int, int]] = (), sentence_vectors: np.ndarray | None = None) -> None:
        """Add a document or replace its chunks (and, where the index keeps them, its sentence vectors); other
        documents' vectors are untouched."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk expected")
        if self.manifest.sentences and sentence_vectors is None:
            raise ValueError("this index keeps sentence vectors: give them with the chunks")
        self.delete(doc_id)
        if self.manifest.sentences:
            self.sentences.add(doc_id, list(sentence_spans), sentence_vectors)
        ids = list(range(self.manifest.next_id, self.manifest.next_id + len(chunks)))
        self.manifest.next_id += len(chunks)
        self.vectors.add(np.asarray(ids, dtype=np.int64), vectors)
        self.chunks.update(zip(ids, chunks))
        self.docs[doc_id] = DocRecord(doc_id, sha256, text, source, ids)

    def delete(self, doc_id: str) -> bool:
        rec = self.docs.pop(doc_id, None)
        if rec is None:
            return False
        self.vectors.remove(rec.chunk_ids)
        self.sentences.remove(doc_id)
        for i in rec.chunk_ids:
            self.chunks.pop(i, None)
        return True

    # ---- saving ----------------------------------------------------------------------------------------------------
    @_plain_write_errors
    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.vectors.maybe_upgrade([i for i, _ in self.chunk_rows()])
        latest = max([self.generation] + [_gen_number(p.name) for p in self.root.glob("gen-*")])
        name = f"gen-{latest + 1:06d}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            (tmp / "manifest.json").write_text(json.dumps(asdict(self.manifest), indent=1))
            with open(tmp / "docs.jsonl", "w", encoding="utf-8") as fh:
                for rec in self.docs.values():
                    fh.write(json.dumps(asdict(rec), ensure_ascii=False) + "\n")
            with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
                for i, chunk in self.chunk_rows():
                    fh.write(json.dumps({"id": i, **chunk.to_dict()}, ensure_ascii=False) + "\n")
            self.vectors.write(tmp / "vectors.faiss")
            if self.manifest.sentences:
                self.sentences.write(tmp)
            for f in tmp.iterdir():
                _fsync(f)
            os.rename(tmp, self.root / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = self.root / ".CURRENT.tmp"
        pointer.write_text(name + "\n")
        _fsync(pointer)
        os.replace(pointer, self.root / "CURRENT")
        previous, self.generation = self.generation, latest + 1
        # Keep the generation just replaced (a reader may still be loading it); drop older ones.
        for old in self.root.glob("gen-*"):
            if _gen_number(old.name) < min(previous, self.generation):
                shutil.rmtree(old, ignore_errors=True)


def leftovers(root: Path) -> list[Path]:
    """What a killed writer leaves behind: `.tmp-*` folders, a `.CURRENT.tmp` pointer, and generation folders other
    than the live one and the one before it (kept, as save() keeps it, for a reader still loading it)."""
    root = Path(root)
    if not root.is_dir():
        return []
    pointer = root / "CURRENT"
    live = _gen_number(pointer.read_text().strip()) if pointer.is_file() else None
    older = [_gen_number(p.name) for p in root.glob("gen-*") if live is not None and _gen_number(p.name) < live]
    keep = {live, max(older, default=None)}
    return [p for p in sorted(root.iterdir()) if p.name.startswith(".tmp-") or p.name == ".CURRENT.tmp"
            or (p.name.startswith("gen-") and _gen_number(p.name) not in keep)]


def sweep(root: Path) -> list[str]:
    """Remove the leftovers of killed writers; call it under write_lock, so no running writer's folder is taken.
    Returns the names removed."""
    removed = []
    for path in leftovers(root):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


@contextmanager
def write_lock(root: Path):
    """Serialise writers across processes (a `rag index` beside a running server); readers never need it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _gen_number(name: str) -> int:
    try:
        return int(name.split("-")[1])
    except (IndexError, ValueError):
        return 0


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
