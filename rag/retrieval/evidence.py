"""Sentence-level evidence selection: from the retrieved chunks, keep the few sentences that best match the question.

A small model answers better from a few short, relevant sentences (three by default, `top_k`) than from long chunks
full of distractors, and a shorter prompt is faster (prefill dominates latency on a CPU). Each selected sentence
becomes a numbered passage with its exact document span and the chunk it came from.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from index.embed import Embedder
from index.sentences import sentence_spans
from rag.checks.question_type import fits_question_type
from rag.retrieval.retrieve import BM25Index, RetrievedChunk
from rag.schema import Passage
from rag.text.textnorm import stems


@dataclass
class _Candidate:
    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    chunk_rank: int


StoredVector = Callable[[str, int, int], "np.ndarray | None"]


class EvidenceSelector:
    def __init__(self, embedder: Embedder, bm25: BM25Index, max_sentences: int = 4, dense_weight: float = 6.0,
                 rank_weight: float = 0.75, min_words: int = 4, cache_size: int = 20_000, type_weight: float = 0.3,
                 stored: StoredVector | None = None):
        self.embedder = embedder
        # The index's own sentence vectors (doc_id, start, end) -> vector or None; sentences it lacks (an index
        # written before it kept them) are embedded here and cached.
        self.stored = stored
        # Sentence vectors by text: the same chunks come back for related questions, and embedding their ~40
        # sentences was most of the retrieval time (20k vectors of 384 floats: 30 MB).
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self.bm25 = bm25
        self.max_sentences = max_sentences
        self.dense_weight = dense_weight
        self.rank_weight = rank_weight
        self.min_words = min_words
        self.type_weight = type_weight

    def candidates(self, hits: list[RetrievedChunk]) -> list[_Candidate]:
        seen: set[tuple[str, int]] = set()
        out = []
        for rank, hit in enumerate(hits):
            c = hit.chunk
            for s, e in sentence_spans(c.text):
                key = (c.doc_id, c.start + s)
                if key in seen:  # overlapping chunks repeat sentences
                    continue
                seen.add(key)
                out.append(_Candidate(c.doc_id, c.chunk_id, c.start + s, c.start + e, c.text[s:e], rank))
        return out

    def coverage(self, question: str, text: str) -> float:
        """Share of the question's (IDF-weighted) words that the text contains, 0..1."""
        return float(self.lexical_scores(question, [_Candidate("", "", 0, 0, text, 0)])[0])

    def lexical_scores(self, question: str, candidates: list[_Candidate]) -> np.ndarray:
        q_stems = set(stems(question, self.bm25.language))
        total = sum(self.bm25.idf(t) for t in q_stems) or 1.0
        scores = []
        for cand in candidates:
            present = q_stems & set(stems(cand.text, self.bm25.language))
            scores.append(sum(self.bm25.idf(t) for t in present) / total)
        return np.asarray(scores)

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """Embeddings of `texts`, computed once per distinct sentence (least recently used ones dropped)."""
        recency = list(dict.fromkeys(reversed(texts)))[::-1]  # each text at its last use
        with self._cache_lock:
            found = {t: self._vectors[t] for t in recency if t in self._vectors}
        missing = [t for t in recency if t not in found]
        if missing:
            found.update(zip(missing, self.embedder.embed(missing)))
        with self._cache_lock:
            for text in recency:
                self._vectors[text] = found[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def similarity(self, question: str, spans: list[tuple[str, int, int, str]]) -> float:
        """The best cosine of the question and the sentences (doc_id, start, end, text), stored vectors where the
        index has them: how closely an answer's cited sentence is about what was asked, across languages. The
        question was embedded for retrieval already (the embedder keeps recent query vectors)."""
        if not spans:
            return 0.0
        vectors = self.candidate_vectors([_Candidate(doc, "", start, end, text, 0) for doc, start, end, text in spans])
        return float(np.max(vectors @ self.embedder.embed_queries([question])[0]))

    def candidate_vectors(self, candidates: list[_Candidate]) -> np.ndarray:
        """Stored vectors where the index has them, the rest embedded (and cached)."""
        rows = [self.stored(c.doc_id, c.start, c.end) if self.stored else None for c in candidates]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            for i, vector in zip(missing, self.sentence_vectors([candidates[i].text for i in missing])):
                rows[i] = vector
        return np.stack(rows)

    def run(self, question: str | list[str], hits: list[RetrievedChunk], limit: int | None = None) -> list[Passage]:
        """Best sentences for the question; with several phrasings (a question and its translation) each sentence
        keeps its best score."""
        candidates = self.candidates(hits)
        if not candidates:
            return []
        queries = [question] if isinstance(question, str) else list(question)
        lexical = np.max([self.lexical_scores(q, candidates) for q in queries], axis=0)
        query_vectors = self.embedder.embed_queries(queries)
        dense = np.max(self.candidate_vectors(candidates) @ query_vectors.T, axis=1)
        prior = np.asarray([1.0 / (c.chunk_rank + 1) for c in candidates])
        # A title line or a fragment of a few words carries little evidence but often shares the question's names.
        short = np.asarray([len(c.text.split()) < self.min_words for c in candidates], dtype=float)
        score = lexical + self.dense_weight * dense + self.rank_weight * prior - 0.3 * short
        # A sentence that could answer the question's type (a date for "quel jour", a duration for "combien de
        # temps") gets a bonus. Weights set on PIAF dev (1537 q, gold answer among the 3 sentences) with
        # multilingual-e5-small, whose cosines sit in a narrow band (hence the large dense weight): 0.766 with the
        # MiniLM-era weights (0.5, 0.3, 0.2), 0.798 with (6, 0.75, 0.3); seed dev 0.984 -> 1.000.
        typed = np.asarray([max(fits_question_type(c.text, q) for q in queries) for c in candidates], dtype=float)
        score += self.type_weight * typed
        order = np.argsort(-score)[: limit or self.max_sentences]
        return [
            Passage(n=n, doc_id=candidates[i].doc_id, chunk_id=candidates[i].chunk_id, start=candidates[i].start,
                    end=candidates[i].end, text=candidates[i].text, score=round(float(score[i]), 4))
            for n, i in enumerate(order, start=1)
        ]
