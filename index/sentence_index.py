"""Sentence vectors, embedded once at index time.

Two readers use them: retrieval's sentence channel (a chunk scores as its best sentence, which finds the one
sentence a question is about inside a long chunk) and evidence selection (which ranks the sentences of the top
chunks). Embedding those sentences per question cost more than the rest of retrieval; reading them costs nothing.

A sentence is stored once per document, by its exact span; the chunks holding it are found by span.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index.sentences import sentence_spans
from index.vectors import VectorIndex

VECTORS_FILE = "sentences.faiss"
SPANS_FILE = "sentences.jsonl"


def chunk_sentence_spans(chunks) -> list[tuple[int, int]]:
    """The distinct (start, end) document spans of the sentences of `chunks`, split as evidence selection splits
    them (a sentence cut by a chunk boundary is the part inside that chunk)."""
    spans = {(c.start + s, c.start + e) for c in chunks for s, e in sentence_spans(c.text)}
    return sorted(spans)


class SentenceIndex:
    def __init__(self, dimension: int):
        self.vectors = VectorIndex(dimension)
        self.spans: dict[int, tuple[str, int, int]] = {}  # sentence id -> (doc_id, start, end)
        self._by_doc: dict[str, list[int]] = {}
        self._by_span: dict[tuple[str, int, int], int] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self.spans)

    def add(self, doc_id: str, spans: list[tuple[int, int]], vectors: np.ndarray) -> None:
        if len(spans) != len(vectors):
            raise ValueError("one vector per sentence expected")
        ids = list(range(self._next_id, self._next_id + len(spans)))
        self._next_id += len(spans)
        self.vectors.add(np.asarray(ids, dtype=np.int64), vectors)
        for i, (start, end) in zip(ids, spans):
            self._remember(i, doc_id, start, end)

    def _remember(self, i: int, doc_id: str, start: int, end: int) -> None:
        self.spans[i] = (doc_id, start, end)
        self._by_doc.setdefault(doc_id, []).append(i)
        self._by_span[(doc_id, start, end)] = i

    def remove(self, doc_id: str) -> None:
        ids = self._by_doc.pop(doc_id, [])
        self.vectors.remove(ids)
        for i in ids:
            self._by_span.pop(self.spans.pop(i), None)

    def vector(self, doc_id: str, start: int, end: int) -> np.ndarray | None:
        """The stored vector of that exact span, or None (not a stored sentence)."""
        i = self._by_span.get((doc_id, start, end))
        return None if i is None else self.vectors.reconstruct(i)

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, int, int, float]]:
        return [(*self.spans[i], score) for i, score in self.vectors.search(query, k) if i in self.spans]

    def write(self, directory: Path) -> None:
        self.vectors.maybe_upgrade(sorted(self.spans))
        self.vectors.write(directory / VECTORS_FILE)
        with open(directory / SPANS_FILE, "w", encoding="utf-8") as fh:
            for i, (doc_id, start, end) in sorted(self.spans.items()):
                fh.write(json.dumps([i, doc_id, start, end], ensure_ascii=False) + "\n")

    @classmethod
    def read(cls, directory: Path, dimension: int) -> "SentenceIndex":
        index = cls(dimension)
        index.vectors = VectorIndex.read(directory / VECTORS_FILE, dimension)
        with open(directory / SPANS_FILE, encoding="utf-8") as fh:
            for line in fh:
                i, doc_id, start, end = json.loads(line)
                index._remember(i, doc_id, start, end)
        index._next_id = max(index.spans, default=-1) + 1
        return index
