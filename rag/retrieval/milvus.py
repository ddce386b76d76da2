"""Hybrid retrieval searched in Milvus (RAG_STORE=milvus; index/milvus_store.py).

The four channels of rag.retrieval.retrieve.HybridRetriever run as Milvus searches: chunk vectors, sentence vectors (a chunk
scores as its best sentence), BM25 over rag's word terms and BM25 over character n-grams, both through Milvus's BM25
function. With RAG_MILVUS_FUSION=client (default) they are fused here exactly as on the FAISS path; with "milvus"
one hybrid_search request fuses dense and both BM25 fields in Milvus (WeightedRanker, the same weights; no sentence
channel: its vectors are in another collection). Nothing is held in this process but caches that a change of the
store's generation clears, so replicas see each other's documents at their next question.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from index.embed import Embedder
from index.milvus_store import MilvusStore, milvus_api
from rag.text.lang import detect_language
from rag.retrieval.retrieve import HybridRetriever, RetrievedChunk
from rag.text.textnorm import lexical_fields, terms, truncate


class MilvusBM25:
    """One BM25 field of the chunks collection, with what evidence selection asks of rag.retrieval.retrieve.BM25Index:
    the language, and a term's IDF (its document frequency counted by Milvus, cached until the store changes)."""

    def __init__(self, store: MilvusStore, field: str, language: str = "french", char_size: int = 4):
        self.store, self.field, self.language, self.char_size = store, field, language, char_size
        self._idf: dict[str, float] = {}
        self._lock = threading.Lock()

    def terms(self, text: str) -> list[str]:
        return terms(text, self.language)

    def analysed(self, text: str) -> str:
        words, grams = lexical_fields(text, self.language, self.char_size)
        return words if self.field == "terms" else grams

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.store.search_text(self.field, self.analysed(query), k)

    def clear(self) -> None:
        with self._lock:
            self._idf.clear()

    def idf(self, token: str) -> float:
        """As BM25Index.idf: log(1 + (N - df + 0.5) / (df + 0.5)) of the stem cut to the index's terms."""
        term = truncate(token)
        with self._lock:
            if term in self._idf:
                return self._idf[term]
        if not term.isalnum():
            return 0.0
        n = len(self.store.chunks)
        df = self.store.count("chunks", f"text_match({self.field}, '{term}')") if n else 0
        value = math.log(1 + (n - df + 0.5) / (df + 0.5))
        with self._lock:
            self._idf[term] = value
        return value


class MilvusRetriever(HybridRetriever):
    def __init__(self, store: MilvusStore, embedder: Embedder, *args, milvus_fusion: str = "client", **kwargs):
        super().__init__(store, embedder, *args, **kwargs)
        self.milvus_fusion = milvus_fusion
        self.bm25 = MilvusBM25(store, "terms", self.bm25.language)
        self.char = MilvusBM25(store, "grams", self.bm25.language, kwargs.get("char_size", 4)) if self.char else None

    def warm_up(self) -> None:
        self.embedder.warm_up()
        self._ready = True

    def refresh(self, store: MilvusStore | None = None) -> None:
        with self._lock:
            if store is not None:
                self.store = store
                for channel in (self.bm25, self.char):
                    if channel is not None:
                        channel.store = store
            self._forget()

    def _forget(self) -> None:
        self.bm25.clear()
        if self.char is not None:
            self.char.clear()

    def rankings(self, store: MilvusStore, queries: list[str], mode: str) -> tuple[list, list, list, list]:
        if store.sync():  # another replica wrote: IDFs and cached chunks are stale
            self._forget()
        return super().rankings(store, queries, mode)

    def sentence_ranking(self, store: MilvusStore, query: np.ndarray) -> list[tuple[int, float]]:
        best: dict[int, float] = {}
        for chunk_ids, score in store.search_sentences(query, 3 * self.candidates):
            for i in chunk_ids:
                best[i] = max(score, best.get(i, float("-inf")))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[: self.candidates]
        store.chunks.fetch([i for i, _ in ranked])
        return ranked

    def run(self, query: str | list[str], top_k: int, mode: str = "hybrid") -> list[RetrievedChunk]:
        if self.milvus_fusion != "milvus" or mode != "hybrid":
            return super().run(query, top_k, mode)
        return self._hybrid_search([query] if isinstance(query, str) else list(query), top_k)

    def _hybrid_search(self, queries: list[str], top_k: int) -> list[RetrievedChunk]:
        """One Milvus hybrid_search per phrasing (dense + word BM25 + n-gram BM25, WeightedRanker); phrasings keep
        each chunk's best fused score."""
        pymilvus = milvus_api()
        self.warm_up()
        store = self.store
        if store.sync():
            self._forget()
        vectors = self.embedder.embed_queries(queries)
        best: dict[int, float] = {}
        for q, v in zip(queries, vectors):
            requests = [pymilvus.AnnSearchRequest([v.tolist()], "vector", {}, self.candidates)]
            weights = [self.dense_weight]
            for channel, weight in ((self.bm25, 1.0), (self.char, self.char_weight)):
                text = channel.analysed(q) if channel is not None else ""
                if text.strip() and (channel is self.bm25 or detect_language(q) == self.language_code):
                    requests.append(pymilvus.AnnSearchRequest([text], f"{channel.field}_bm25", {}, self.candidates))
                    weights.append(weight)
            hits = store.call("hybrid_search", store.names["chunks"], requests,
                              pymilvus.WeightedRanker(*weights, norm_score=True), limit=self.candidates)[0]
            for h in hits:
                best[int(h["id"])] = max(float(h["distance"]), best.get(int(h["id"]), float("-inf")))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:top_k]
        store.chunks.fetch([i for i, _ in ranked])
        return [RetrievedChunk(i, store.chunks[i], score) for i, score in ranked if i in store.chunks]

