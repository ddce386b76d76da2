"""Sentence vectors stored at index time: one per distinct sentence span, kept through save, replace and delete."""
import numpy as np

from index.chunk import Chunk
from index.sentence_index import SentenceIndex, chunk_sentence_spans
from index.store import IndexStore
from rag.config import Settings
from rag.pipeline import make_indexer


def _unit(i, d=4):
    v = np.zeros(d, dtype=np.float32)
    v[i] = 1
    return v


def test_overlapping_chunks_give_each_sentence_once():
    text = "Une phrase. Deux phrases. Trois phrases."
    chunks = [Chunk("a", "d.txt", 0, 25, text[:25]), Chunk("b", "d.txt", 12, 40, text[12:40])]
    assert chunk_sentence_spans(chunks) == [(0, 11), (12, 25), (26, 40)]


def test_add_search_remove_and_round_trip(tmp_path):
    index = SentenceIndex(4)
    index.add("a.txt", [(0, 5), (6, 9)], np.stack([_unit(0), _unit(1)]))
    index.add("b.txt", [(0, 7)], np.stack([_unit(2)]))
    assert index.search(_unit(1), 1) == [("a.txt", 6, 9, 1.0)]
    assert np.array_equal(index.vector("b.txt", 0, 7), _unit(2)) and index.vector("b.txt", 0, 6) is None
    index.write(tmp_path)
    again = SentenceIndex.read(tmp_path, 4)
    assert again.spans == index.spans and np.array_equal(again.vector("a.txt", 6, 9), _unit(1))
    again.remove("a.txt")
    assert len(again) == 1 and again.vector("a.txt", 0, 5) is None
    again.add("c.txt", [(0, 3)], np.stack([_unit(3)]))  # new ids never reuse live ones
    assert len(set(again.spans)) == 2 and again.search(_unit(3), 1)[0][0] == "c.txt"


def test_index_stores_every_sentence_of_every_chunk(seed_index, seed_text):
    store = IndexStore.open(seed_index)
    assert store.manifest.sentences
    stored = {(s, e) for _, s, e in store.sentences.spans.values()}
    assert stored == set(chunk_sentence_spans(store.chunks.values()))
    assert all(seed_text[s:e].strip() == seed_text[s:e] for s, e in stored)


def test_replacing_and_deleting_a_document_updates_its_sentences(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Le chat dort. Il fait beau.", encoding="utf-8")
    (docs / "b.txt").write_text("Paris est la capitale de la France.", encoding="utf-8")
    indexer = make_indexer(Settings(index_dir=tmp_path / "index"), embedder)
    indexer.index_paths([docs])
    (docs / "a.txt").write_text("Le chien court dans le jardin.", encoding="utf-8")
    indexer.index_paths([docs])
    store = IndexStore.open(tmp_path / "index")
    assert sorted(store.sentences.spans.values()) == [("a.txt", 0, 30), ("b.txt", 0, 35)]
    best = store.sentences.search(embedder.embed_queries(["Où court le chien ?"])[0], 1)[0]
    assert best[:3] == ("a.txt", 0, 30)
    indexer.index_documents([], delete=["a.txt"])
    assert [d for d, _, _ in IndexStore.open(tmp_path / "index").sentences.spans.values()] == ["b.txt"]
