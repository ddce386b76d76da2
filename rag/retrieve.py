"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused with reciprocal rank fusion."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from index.chunk import Chunk
from index.embed import Embedder
from index.store import IndexStore
from rag.textnorm import TERM_PREFIX, terms, truncate

MODES = ("hybrid", "dense", "bm25")


@dataclass
class RetrievedChunk:
    id: int
    chunk: Chunk
    score: float  # fused (RRF) score in hybrid mode, else the single ranker's score
    dense: float | None = None
    bm25: float | None = None


class BM25Index:
    """BM25 over French-stemmed, accent-folded tokens cut to `prefix` characters (bm25s; see textnorm.terms).
    Rebuilt from the chunk store in well under a second per thousand chunks, so document updates re-index it
    instead of patching it."""

    def __init__(self, language: str = "french", k1: float = 1.2, b: float = 0.75, prefix: int | None = TERM_PREFIX):
        self.language, self.k1, self.b, self.prefix = language, k1, b, prefix
        self._bm25 = None
        self._ids: list[int] = []
        self._vocab: dict[str, int] = {}
        self._idf: dict[str, float] = {}

    def build(self, rows: list[tuple[int, Chunk]]) -> None:
        try:
            import bm25s
        except ImportError:
            raise RuntimeError("install bm25s to enable BM25 retrieval") from None
        self._ids = [i for i, _ in rows]
        if not rows:
            self._bm25 = None
            return
        vocab: dict[str, int] = {}
        corpus_ids = [[vocab.setdefault(t, len(vocab)) for t in terms(c.text, self.language, self.prefix)] for _, c in rows]
        if not vocab:  # nothing searchable (e.g. only stop words or symbols): dense search still works
            self._bm25, self._vocab, self._idf = None, {}, {}
            return
        model = bm25s.BM25(k1=self.k1, b=self.b)
        model.index(bm25s.tokenization.Tokenized(ids=corpus_ids, vocab=vocab), show_progress=False)
        df = np.zeros(len(vocab))
        for ids in corpus_ids:
            df[list(set(ids))] += 1
        idf = np.log(1 + (len(corpus_ids) - df + 0.5) / (df + 0.5))
        self._bm25, self._vocab = model, vocab
        self._idf = {token: float(idf[i]) for token, i in vocab.items()}

    def idf(self, token: str) -> float:
        """Inverse document frequency of a stem (from textnorm.stems; cut to the index's terms here); unseen tokens
        count as rare."""
        return self._idf.get(truncate(token, self.prefix), max(self._idf.values(), default=1.0))

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        if self._bm25 is None:
            return []
        tokens = [self._vocab[t] for t in terms(query, self.language, self.prefix) if t in self._vocab]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        top = np.argsort(-scores)[:k]
        return [(self._ids[i], float(scores[i])) for i in top if scores[i] > 0]


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60, weights: list[float] | None = None) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return fused


class HybridRetriever:
    def __init__(self, store: IndexStore, embedder: Embedder, candidates: int = 30, rrf_k: int = 2,
                 language: str = "french", dense_weight: float = 0.2):
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25 = BM25Index(language)
        self._lock = threading.Lock()
        self._ready = False

    def warm_up(self) -> None:
        self.embedder.warm_up()
        if not self._ready:
            self.refresh()

    def refresh(self, store: IndexStore | None = None) -> None:
        """Pick up a changed store (after add/replace/delete) without touching the models."""
        with self._lock:
            if store is not None:
                self.store = store
            self.bm25.build(self.store.chunk_rows())
            self._ready = True

    def run(self, query: str | list[str], top_k: int, mode: str = "hybrid") -> list[RetrievedChunk]:
        """Top chunks for one query, or for several phrasings of it (e.g. a question and its translation),
        all rankings fused."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        self.warm_up()
        queries = [query] if isinstance(query, str) else list(query)
        rankings: list[list[tuple[int, float]]] = []
        with self._lock:
            store = self.store
            if mode != "bm25":
                vectors = self.embedder.embed(queries)
                rankings += [store.search(v, self.candidates) for v in vectors]
            if mode != "dense":
                rankings += [self.bm25.search(q, self.candidates) for q in queries]
        dense_scores, sparse_scores = {}, {}
        for ranking, target in zip(rankings, [dense_scores] * (len(queries) if mode != "bm25" else 0) + [sparse_scores] * len(queries)):
            for i, score in ranking:
                target[i] = max(score, target.get(i, float("-inf")))
        if len(rankings) == 1:
            ranked = rankings[0]
        else:
            n_dense = len(queries) if mode != "bm25" else 0
            weights = [self.dense_weight] * n_dense + [1.0] * (len(rankings) - n_dense)
            fused = reciprocal_rank_fusion([[i for i, _ in r] for r in rankings], self.rrf_k, weights)
            ranked = sorted(fused.items(), key=lambda kv: -kv[1])
        return [
            RetrievedChunk(i, store.chunks[i], score, dense_scores.get(i), sparse_scores.get(i))
            for i, score in ranked[:top_k]
            if i in store.chunks
        ]
