"""Hybrid retrieval: dense (chunk vectors, and chunks scored by their best sentence's vector), word BM25 and
character n-gram BM25 rankings, fused on their normalised scores (or by reciprocal rank fusion)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.chunk import Chunk
from index.embed import Embedder
from index.store import IndexStore
from rag.text.lang import detect_language
from rag.stopwatch import stage
from rag.text.textnorm import TERM_PREFIX, char_ngrams, terms, truncate

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("scores", "rrf")
_LANGUAGE_CODES = {"french": "fr", "english": "en"}  # Snowball names -> rag.text.lang codes


@dataclass
class RetrievedChunk:
    id: int
    chunk: Chunk
    score: float  # fused score in hybrid mode (see score_fusion), else the single ranker's score
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

    def terms(self, text: str) -> list[str]:
        return terms(text, self.language, self.prefix)

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
        corpus_ids = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in self.terms(c.text)), dtype=np.int32)
                      for _, c in rows]
        if not vocab:  # nothing searchable (e.g. only stop words or symbols): dense search still works
            self._bm25, self._vocab, self._idf = None, {}, {}
            return
        model = bm25s.BM25(k1=self.k1, b=self.b)
        model.index(bm25s.tokenization.Tokenized(ids=_TokenLists(corpus_ids), vocab=vocab), show_progress=False)
        df = np.zeros(len(vocab))
        for ids in corpus_ids:
            df[np.unique(ids)] += 1
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
        tokens = [self._vocab[t] for t in self.terms(query) if t in self._vocab]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        return [(self._ids[i], float(scores[i])) for i in top_scores(scores, k)]


def top_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest positive scores, best first, ties in index order. A partial selection among the
    positive scores: sorting all 10^6 character n-gram scores took 40-170 ms a query on the busy 2 cores, this takes
    1-7 ms (word BM25's mostly-zero scores are filtered first: np.partition over a million zeros is as slow)."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        values = scores[candidates]
        candidates = candidates[values >= np.partition(values, len(values) - k)[len(values) - k]]
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]


class _TokenLists(Sequence):
    """Each document's token ids kept as an int32 array (4 bytes a token, against 36 for an int in a list), handed to
    bm25s as a list one document at a time: the n-grams of 10^6 chunks no longer need over 10 GB to index."""

    def __init__(self, arrays: list[np.ndarray]):
        self._arrays = arrays

    def __len__(self) -> int:
        return len(self._arrays)

    def __getitem__(self, i: int) -> list[int]:
        return self._arrays[i].tolist()


class CharNgramIndex(BM25Index):
    """BM25 over character n-grams of words (textnorm.char_ngrams). Fused with the word index, it matches French
    inflections, derivations and misspellings that stems cut to 5 characters miss (PIAF paragraphs: hybrid hit@1
    0.709 -> 0.735)."""

    def __init__(self, n: int = 4, k1: float = 1.2, b: float = 0.75):
        super().__init__(k1=k1, b=b, prefix=None)
        self.n = n

    def terms(self, text: str) -> list[str]:
        return char_ngrams(text, self.n)


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60, weights: list[float] | None = None) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return fused


def score_fusion(rankings: list[list[tuple[int, float]]], weights: list[float], relative: list[bool],
                 depth: int) -> dict[int, float]:
    """Weighted sum of the rankers' normalised scores. A `relative` ranking (BM25: unbounded scores) is divided by
    its best score, and an item it does not list gets its lowest listed score when it was cut at `depth` (the
    item's true score is at most that), else 0 (no match at all). The others (cosines) are min-max normalised over
    the items they list, so unlisted items get 0: e5's cosines sit in a narrow band (0.75-0.9), where a raw cosine
    barely moves a sum. Unlike RRF, a clear first hit keeps its lead and near-ties stay near-ties."""
    fused: dict[int, float] = {}
    columns = []
    for ranking, weight, rel in zip(rankings, weights, relative):
        if not ranking:
            continue
        scores = [s for _, s in ranking]
        if rel:
            best = max(scores[0], 1e-9)
            normalised = {i: s / best for i, s in ranking}
            floor = scores[-1] / best if len(ranking) >= depth else 0.0
        else:
            low, span = min(scores), max(scores) - min(scores)
            normalised = {i: (s - low) / span if span > 1e-9 else 1.0 for i, s in ranking}  # a lone best counts 1
            floor = 0.0
        columns.append((normalised, weight, floor))
        for i, _ in ranking:
            fused[i] = 0.0
    for scores, weight, floor in columns:
        for i in fused:
            fused[i] += weight * scores.get(i, floor)
    return fused


def sentence_ranking(store: IndexStore, query: np.ndarray, depth: int) -> list[tuple[int, float]]:
    """Chunks scored by their best sentence (stored sentence vectors), best first, at most `depth` of them."""
    best: dict[int, float] = {}
    for doc_id, start, end, score in store.sentences.search(query, 3 * depth):
        record = store.docs.get(doc_id)
        for i in record.chunk_ids if record else ():
            chunk = store.chunks[i]
            if chunk.start <= start and end <= chunk.end and score > best.get(i, float("-inf")):
                best[i] = score
    return sorted(best.items(), key=lambda kv: -kv[1])[:depth]


class HybridRetriever:
    def __init__(self, store: IndexStore, embedder: Embedder, candidates: int = 30, rrf_k: int = 2,
                 language: str = "french", dense_weight: float = 0.2, fusion: str = "scores",
                 char_weight: float = 0.5, char_size: int = 4, sentence_weight: float = 0.0):
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.sentence_weight = sentence_weight
        self.fusion = fusion
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.char_weight = char_weight
        self.bm25 = BM25Index(language)
        self.language_code = _LANGUAGE_CODES.get(language, language)
        self.char = CharNgramIndex(char_size) if self.char_weight > 0 else None
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
            rows = self.store.chunk_rows()
            self.bm25.build(rows)
            if self.char is not None:
                self.char.build(rows)
            self._ready = True

    def run(self, query: str | list[str], top_k: int, mode: str = "hybrid") -> list[RetrievedChunk]:
        """Top chunks for one query, or for several phrasings of it (e.g. a question and its translation),
        all rankings fused."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        self.warm_up()
        queries = [query] if isinstance(query, str) else list(query)
        with self._lock:
            store = self.store
            dense, sentence, sparse, char = self.rankings(store, queries, mode)
        dense_scores, sparse_scores = _best_scores(dense), _best_scores(sparse)
        with stage("retrieve.fusion"):
            ranked = self.fuse(dense, sentence, sparse, char)
        return [
            RetrievedChunk(i, store.chunks[i], score, dense_scores.get(i), sparse_scores.get(i))
            for i, score in ranked[:top_k]
            if i in store.chunks
        ]

    def rankings(self, store, queries: list[str], mode: str) -> tuple[list, list, list, list]:
        """Each channel's ranking per query: chunk dense, best-sentence dense, word BM25, character n-gram BM25."""
        dense, sentence, sparse, char = [], [], [], []
        if mode != "bm25":
            with stage("retrieve.embed_query"):
                vectors = self.embedder.embed_queries(queries)
            with stage("retrieve.dense"):
                dense = [store.search(v, self.candidates) for v in vectors]
            if self.sentence_weight > 0 and len(store.sentences):
                with stage("retrieve.sentence"):
                    sentence = [self.sentence_ranking(store, v) for v in vectors]
        if mode != "dense":
            with stage("retrieve.bm25"):
                sparse = [self.bm25.search(q, self.candidates) for q in queries]
        if mode == "hybrid" and self.char is not None:
            # Only queries in the index's language: an English question's n-grams match French text by accident
            # (seed gold, untranslated English questions: hit@1 0.90 -> 0.80); its translation is searched instead.
            with stage("retrieve.char_ngram"):
                char = [self.char.search(q, self.candidates) for q in queries if detect_language(q) == self.language_code]
        return dense, sentence, sparse, char

    def sentence_ranking(self, store, query: np.ndarray) -> list[tuple[int, float]]:
        return sentence_ranking(store, query, self.candidates)

    def fuse(self, dense: list, sentence: list, sparse: list, char: list) -> list[tuple[int, float]]:
        """One ranking from the channels' rankings (each a list per query phrasing), best first."""
        rankings = dense + sentence + sparse + char
        weights = ([self.dense_weight] * len(dense) + [self.sentence_weight] * len(sentence) + [1.0] * len(sparse)
                   + [self.char_weight] * len(char))
        if len(rankings) == 1:
            return rankings[0]
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion([[i for i, _ in r] for r in rankings], self.rrf_k, weights)
        else:
            relative = [False] * (len(dense) + len(sentence)) + [True] * (len(sparse) + len(char))
            fused = score_fusion(rankings, weights, relative, self.candidates)
        return sorted(fused.items(), key=lambda kv: -kv[1])


def _best_scores(rankings: list[list[tuple[int, float]]]) -> dict[int, float]:
    best: dict[int, float] = {}
    for ranking in rankings:
        for i, score in ranking:
            best[i] = max(score, best.get(i, float("-inf")))
    return best
