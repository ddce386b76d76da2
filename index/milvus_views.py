"""What a Milvus store (index/milvus_store.py) shows of itself as mappings, like IndexStore's dictionaries: documents
(their text and chunk ids read when first asked for), chunks (an LRU of those searches returned, the rest fetched by
id) and sentence vectors (read a document at a time). Each read goes to Milvus, where another replica may have
written; the caches are dropped when the store's generation changes."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Iterator

import numpy as np

from index.chunk import Chunk
from index.store import DocRecord

if TYPE_CHECKING:
    from index.milvus_store import MilvusStore

CHUNK_FIELDS = ["chunk_id", "doc_id", "start", "end", "text"]
DOC_FIELDS = ["doc_id", "doc_sha", "written", "source", "chars", "chunks"]


def literal(value: str) -> str:
    """A string literal for a Milvus filter expression (JSON's escapes; Milvus reads no \\u escapes, so non-ASCII
    characters stay as they are)."""
    return json.dumps(value, ensure_ascii=False)


def chunk_from_row(row: dict) -> Chunk:
    return Chunk(row["chunk_id"], row["doc_id"], int(row["start"]), int(row["end"]), row["text"])


class MilvusDocRecord(DocRecord):
    """A document's metadata; its text and chunk ids are read from Milvus when first asked for."""

    def __init__(self, store: MilvusStore, row: dict):
        self._store, self._text, self._chunk_ids = store, None, None
        self.doc_id, self.sha256, self.source = row["doc_id"], row["doc_sha"], row["source"]
        self._chars, self._chunks = int(row["chars"]), int(row["chunks"])

    def _version(self) -> str:
        return f"doc_id == {literal(self.doc_id)} and doc_sha == {literal(self.sha256)}"

    @property
    def text(self) -> str:  # type: ignore[override]
        if self._text is None:
            parts = self._store.query("docs", self._version(), ["part", "text"])
            self._text = "".join(p["text"] for p in sorted(parts, key=lambda p: p["part"]))
        return self._text

    @property
    def chunk_ids(self) -> list[int]:  # type: ignore[override]
        if self._chunk_ids is None:
            rows = self._store.query("chunks", self._version(), ["id", "start"])
            self._chunk_ids = [int(r["id"]) for r in sorted(rows, key=lambda r: r["start"])]
        return self._chunk_ids

    @property
    def chars(self) -> int:
        return self._chars

    @property
    def chunk_count(self) -> int:
        return self._chunks


class MilvusDocs(Mapping):
    """doc_id -> DocRecord, read from Milvus on each access (another replica may have changed it)."""

    def __init__(self, store: MilvusStore):
        self._store = store

    def __getitem__(self, doc_id: str) -> DocRecord:
        rows = self._store.query("docs", f"doc_id == {literal(doc_id)} and part == 0", DOC_FIELDS)
        if not rows:
            raise KeyError(doc_id)
        return MilvusDocRecord(self._store, max(rows, key=lambda r: r["written"]))  # a save may be under way

    def __len__(self) -> int:
        """Documents (for a moment a document being replaced counts twice)."""
        return self._store.count("docs", "part == 0")

    def __iter__(self) -> Iterator[str]:
        return iter([r.doc_id for r in self.values()])

    def values(self) -> list[DocRecord]:  # type: ignore[override]
        newest: dict[str, dict] = {}
        for row in self._store.scan("docs", "part == 0", DOC_FIELDS):
            if row["doc_id"] not in newest or row["written"] > newest[row["doc_id"]]["written"]:
                newest[row["doc_id"]] = row
        return [MilvusDocRecord(self._store, r) for r in newest.values()]


class MilvusChunks(Mapping):
    """chunk id -> Chunk; the chunks that searches return are kept (LRU), the others fetched by id."""

    def __init__(self, store: MilvusStore, capacity: int = 20_000):
        self._store = store
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def remember(self, rows) -> None:
        with self._lock:
            for i, chunk in rows:
                self._cache[i] = chunk
                self._cache.move_to_end(i)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def fetch(self, ids: list[int]) -> None:
        """Read the chunks of `ids` not cached yet, in one request."""
        with self._lock:
            missing = [i for i in dict.fromkeys(ids) if i not in self._cache]
        if missing:
            rows = self._store.call("get", self._store.names["chunks"], ids=missing, output_fields=CHUNK_FIELDS)
            self.remember((int(r["id"]), chunk_from_row(r)) for r in rows)

    def __getitem__(self, i: int) -> Chunk:
        self.fetch([i])
        with self._lock:
            return self._cache[i]

    def __contains__(self, i) -> bool:
        try:
            self[i]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return self._store.count("chunks")

    def __iter__(self) -> Iterator[int]:
        return iter([i for i, _ in self._store.chunk_rows()])


class MilvusSentences:
    """The stored sentence vectors, read a document at a time (evidence selection asks for the sentences of the
    few documents just retrieved) and kept for the most recent documents."""

    def __init__(self, store: MilvusStore, documents: int = 256):
        self._store = store
        self._by_doc: OrderedDict[str, dict[tuple[int, int], np.ndarray]] = OrderedDict()
        self._documents = documents
        self._lock = threading.Lock()
        self._count: int | None = None  # asked by each retrieval: kept until the store changes

    def __len__(self) -> int:
        if self._count is None:
            self._count = self._store.count("sentences")
        return self._count

    def clear(self) -> None:
        with self._lock:
            self._by_doc.clear()
            self._count = None

    def vector(self, doc_id: str, start: int, end: int) -> np.ndarray | None:
        with self._lock:
            vectors = self._by_doc.get(doc_id)
        if vectors is None:
            rows = self._store.query("sentences", f"doc_id == {literal(doc_id)}", ["start", "end", "vector"])
            vectors = {(int(r["start"]), int(r["end"])): np.asarray(r["vector"], dtype=np.float32) for r in rows}
            with self._lock:
                self._by_doc[doc_id] = vectors
                while len(self._by_doc) > self._documents:
                    self._by_doc.popitem(last=False)
        with self._lock:
            self._by_doc.move_to_end(doc_id)
        return vectors.get((start, end))

