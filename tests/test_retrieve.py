"""Retrieval: BM25 terms (truncated French stems), character n-grams, score fusion and weighted RRF, and
HybridRetriever over a fake store/embedder."""
from __future__ import annotations

import numpy as np
import pytest

from index.chunk import Chunk
from rag.config import Settings
from rag.retrieval.retrieve import (BM25Index, CharNgramIndex, HybridRetriever, reciprocal_rank_fusion, score_fusion,
                          sentence_ranking, top_scores)
from rag.text.textnorm import TERM_PREFIX, char_ngrams, stems, terms


def _chunk(n: int, text: str) -> Chunk:
    return Chunk(f"c{n}", f"doc{n}.txt", 0, len(text), text)


def test_terms_are_stems_cut_to_prefix():
    assert TERM_PREFIX == 5
    # A misspelling and a derived form end up on one term where whole stems differ.
    assert stems("britannique") != stems("britanique")
    assert terms("britannique") == terms("britanique") == ["brita"]
    assert terms("L'insurrection des insurgés") == ["insur", "insur"]
    assert terms("britannique", prefix=None) == stems("britannique")
    assert terms("Quelle est la date ?") == stems("date")  # stop words still dropped


def test_bm25_matches_inflected_forms_and_idf_accepts_whole_stems():
    rows = [(0, _chunk(0, "Le domaine colonial britannique en Afrique australe.")),
            (1, _chunk(1, "Les prêtres espagnols appelaient à la croisade.")),
            (2, _chunk(2, "La saison commence par une révolution tactique."))]
    bm25 = BM25Index()
    bm25.build(rows)
    hits = bm25.search("Quel est le domaine colonial britanique ?", 3)
    assert hits and hits[0][0] == 0
    # rag/retrieval/evidence.py looks up idf with textnorm.stems output: it maps onto the index's truncated terms.
    stem = stems("britannique")[0]
    assert bm25.idf(stem) == bm25.idf("brita") < bm25.idf("never-seen")
    assert bm25.search("zzz", 3) == []


def test_bm25_without_prefix_keeps_whole_stems():
    bm25 = BM25Index(prefix=None)
    bm25.build([(0, _chunk(0, "Le domaine britannique.")), (1, _chunk(1, "Autre chose."))])
    assert bm25.search("britanique", 2) == []  # whole stems differ: no match
    assert bm25.search("britannique", 2)[0][0] == 0


def test_small_rrf_k_keeps_bm25_top_and_dense_breaks_ties():
    bm25 = [1, 2, 3]
    dense = [2, 9, 8]
    # Default k=60 with an equal-ish weight lets the dense ranking reorder BM25's first hit...
    loose = reciprocal_rank_fusion([bm25, dense], k=60, weights=[1.0, 0.5])
    assert max(loose, key=loose.get) == 2
    # ...k=2 with a small dense weight keeps it, while dense-only candidates still enter the list.
    tight = reciprocal_rank_fusion([bm25, dense], k=2, weights=[1.0, 0.2])
    order = sorted(tight, key=lambda i: -tight[i])
    assert order[:2] == [1, 2] and 9 in order


def test_default_settings_fit_the_embedder_window(embedder):
    s = Settings(_env_file=None)
    assert s.embedder == embedder.name and s.chunk_tokens <= embedder.max_tokens  # chunks are read whole
    assert s.chunk_overlap_tokens < s.chunk_tokens
    assert (s.fusion, s.rrf_dense_weight, s.sentence_weight, s.char_ngram_weight) == ("scores", 0.75, 1.0, 0.75)


class _FakeStore:
    def __init__(self, texts: list[str], vectors: np.ndarray):
        self.chunks = {i: _chunk(i, t) for i, t in enumerate(texts)}
        self.vectors = vectors
        self.sentences = []  # no stored sentence vectors: the sentence channel stays off

    def chunk_rows(self):
        return list(self.chunks.items())

    def search(self, vector, k):
        scores = self.vectors @ vector
        return [(int(i), float(scores[i])) for i in np.argsort(-scores)[:k]]


class _FakeEmbedder:
    def __init__(self, vector: np.ndarray):
        self.vector = vector

    def warm_up(self):
        pass

    def embed_queries(self, texts):
        return np.stack([self.vector] * len(texts))


def test_hybrid_run_keeps_lexical_top_and_adds_dense_recall():
    texts = ["Le traité anglo-néerlandais de 1814 fonde la colonie du Cap.",
             "Un texte sans rapport avec la question.",
             "A settlement in the south was set up by a pact."]
    vectors = np.eye(3, dtype=np.float32)
    store = _FakeStore(texts, vectors)
    retriever = HybridRetriever(store, _FakeEmbedder(vectors[2]), candidates=3)
    hits = retriever.run("Quel traité fonde la colonie du Cap ?", 3)
    assert [h.id for h in hits][:2] == [0, 2]  # BM25's best first, the dense-only match next
    assert hits[0].bm25 and hits[1].bm25 is None and hits[1].dense == 1.0
    assert [h.id for h in retriever.run("Quel traité ?", 1, mode="dense")] == [2]


def test_char_ngrams_pad_words_and_skip_stop_words():
    assert char_ngrams("L'Ukraine et le FC") == ["#ukr", "ukra", "krai", "rain", "aine", "ine#", "#fc#"]
    assert char_ngrams("Quelle est la ?") == []


def test_char_ngram_index_matches_where_stems_differ():
    rows = [(0, _chunk(0, "Le barrage hydroélectrique est achevé.")), (1, _chunk(1, "Le roi signe un traité de paix."))]
    words, grams = BM25Index(), CharNgramIndex()
    words.build(rows)
    grams.build(rows)
    assert words.search("production électrique", 2) == []  # 'elect' is not 'hydro'
    assert grams.search("production électrique", 2)[0][0] == 0  # shares 'elec', 'lect', … 'que#'


def test_score_fusion_keeps_a_clear_lead_and_floors_cut_rankings():
    bm25 = [(1, 10.0), (2, 9.0)]  # relative: divided by the best score; fewer than depth, so unlisted items get 0
    dense = [(2, 0.9), (3, 0.85), (4, 0.8)]  # cosines, min-max normalised over the listed items: unlisted get 0
    fused = score_fusion([bm25, dense], [1.0, 0.5], [True, False], depth=3)
    assert fused[1] == pytest.approx(1.0)
    assert fused[2] == pytest.approx(0.9 + 0.5 * 1.0)
    assert fused[3] == pytest.approx(0.5 * 0.5)
    assert max(fused, key=fused.get) == 2
    cut = score_fusion([[(1, 10.0), (2, 5.0)], [(3, 0.9)]], [1.0, 0.5], [True, False], depth=2)
    assert cut[3] == pytest.approx(0.5 + 0.5)  # BM25 was cut at depth 2: item 3 scores at most its lowest, 5/10
    assert score_fusion([[], dense], [1.0, 0.5], [True, False], depth=5) == pytest.approx({2: 0.5, 3: 0.25, 4: 0.0})


def test_sentence_channel_scores_a_chunk_by_its_best_sentence(pipeline):
    store = pipeline.retriever.store
    query = pipeline.embedder.embed_queries(["Quand l'approvisionnement via le gazoduc doit-il débuter ?"])[0]
    ranking = sentence_ranking(store, query, depth=3)
    best = store.chunks[ranking[0][0]]
    assert "devrait débuter en 2027" in best.text
    assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True) and len(ranking) <= 3


def test_hybrid_char_channel_only_for_queries_in_the_index_language():
    texts = ["Les insurgés prennent la ville.", "Le roi signe un traité de paix."]
    vectors = np.eye(2, dtype=np.float32)
    retriever = HybridRetriever(_FakeStore(texts, vectors), _FakeEmbedder(vectors[1]), candidates=2)
    calls = []
    search = retriever.char.search
    retriever.char.search = lambda q, k: calls.append(q) or search(q, k)
    retriever.run(["Who were the insurgents?", "Qui sont les insurgés ?"], 2)
    assert calls == ["Qui sont les insurgés ?"]
    assert HybridRetriever(_FakeStore(texts, vectors), _FakeEmbedder(vectors[1]), char_weight=0).char is None
    rrf = HybridRetriever(_FakeStore(texts, vectors), _FakeEmbedder(vectors[1]), candidates=2, fusion="rrf")
    assert rrf.run("Qui sont les insurgés ?", 1)[0].id == 0


def test_top_scores_is_a_stable_sort_of_the_positive_scores():
    """BM25's partial selection gives what a full stable sort gives, ties and zeros included."""
    rng = np.random.default_rng(0)
    for size, k, top in [(1000, 50, 6), (1000, 5, 6), (30, 50, 6), (1000, 1000, 6), (100_000, 50, 400)]:
        scores = np.maximum(rng.integers(-top, 6, size), 0).astype(np.float32) / 2  # many ties, many zeros
        order = np.argsort(-scores, kind="stable")
        assert top_scores(scores, k).tolist() == [i for i in order[:k] if scores[i] > 0]
    assert top_scores(np.zeros(100, dtype=np.float32), 10).tolist() == []
