"""Sentence-level evidence selection with the real embedder: the best sentence first, its span exact, vectors cached."""
import numpy as np
import pytest

from index.chunk import Chunk
from rag.retrieval.evidence import EvidenceSelector
from rag.retrieval.retrieve import BM25Index, RetrievedChunk

TEXT = ("La tour mesure 330 mètres de haut. Sa construction a duré deux ans et s'est achevée en mars 1889. "
        "Les plans ont été dessinés par Maurice Koechlin.")


def _selector(embedder, cache_size=100):
    chunk = Chunk("c1", "tour.txt", 10, 10 + len(TEXT), TEXT)
    bm25 = BM25Index()
    bm25.build([(0, chunk)])
    return EvidenceSelector(embedder, bm25, cache_size=cache_size), [RetrievedChunk(0, chunk, 1.0)]


def test_best_sentence_comes_first_with_its_document_span(embedder):
    selector, hits = _selector(embedder)
    passages = selector.run("En quelle année la construction s'est-elle achevée ?", hits, limit=2)
    assert "1889" in passages[0].text and [p.n for p in passages] == [1, 2]
    assert TEXT[passages[0].start - 10 : passages[0].end - 10] == passages[0].text


def test_sentence_vectors_are_cached_and_equal_fresh_ones(embedder):
    selector, _ = _selector(embedder, cache_size=2)
    texts = ["La tour mesure 330 mètres.", "Les plans sont de Koechlin.", "La tour mesure 330 mètres."]
    cached = selector.sentence_vectors(texts)
    assert np.allclose(cached, embedder.embed(texts), atol=1e-5)
    assert len(selector._vectors) == 2
    selector.sentence_vectors(["Une troisième phrase."])
    assert list(selector._vectors) == ["La tour mesure 330 mètres.", "Une troisième phrase."]  # least recent out


def test_sentence_of_the_asked_type_wins_a_near_tie(embedder):
    text = "Poutine a parlé avec Trump de l'Ukraine. Poutine a salué le 20 janvier les propos de Trump."
    chunk = Chunk("c2", "d.txt", 0, len(text), text)
    bm25 = BM25Index()
    bm25.build([(0, chunk)])
    hits = [RetrievedChunk(0, chunk, 1.0)]
    question = "Quel jour Poutine a-t-il accueilli les propos de Trump ?"
    selector = EvidenceSelector(embedder, bm25)
    typed = selector.run(question, hits, limit=2)
    untyped = EvidenceSelector(embedder, bm25, type_weight=0.0).run(question, hits, limit=2)
    assert "20 janvier" in typed[0].text
    bonus = typed[0].score - untyped[[p.text for p in untyped].index(typed[0].text)].score
    assert bonus == pytest.approx(selector.type_weight, abs=1e-3)


def test_similarity_across_languages_prefers_the_sentence_about_the_question(embedder):
    selector, _ = _selector(embedder)
    question = "How tall is the tower?"
    sentences = [(doc, start, start + len(text), text) for doc, start, text in
                 (("tour.txt", 10, "La tour mesure 330 mètres de haut."),
                  ("tour.txt", 200, "Les plans ont été dessinés par Maurice Koechlin."))]
    on_topic, off_topic = (selector.similarity(question, [s]) for s in sentences)
    assert on_topic > off_topic and selector.similarity(question, sentences) == pytest.approx(on_topic, abs=1e-5)
    assert selector.similarity(question, []) == 0.0
