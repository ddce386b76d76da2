"""The Milvus store (RAG_STORE=milvus) on Milvus Lite: the seed index searched in Milvus as on FAISS, documents
added, replaced and deleted, and two API replicas sharing one store through a Milvus Lite server."""
from pathlib import Path

import httpx
import pytest

from api.testing import milvus_server, running_server

pytest.importorskip("pymilvus", reason="install pymilvus and milvus-lite (pip install -e '.[milvus]')")
pytest.importorskip("milvus_lite", reason="install milvus-lite (pip install -e '.[milvus]')")

QUESTIONS = ["Quand l'approvisionnement via le gazoduc doit-il débuter ?",
             "Combien de temps a duré la visioconférence ?", "Qui est le conseiller de Poutine ?"]
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ODD_ID = 'notes/l\'île "Kerbrat".txt'  # quotes must survive Milvus filter expressions


def milvus_settings(tmp_path, **kw):
    from rag.config import Settings

    return Settings(index_dir=tmp_path / "index", store="milvus", milvus_uri=str(tmp_path / "store.db"), **kw)


@pytest.fixture(scope="module")
def milvus_pipeline(tmp_path_factory, embedder):
    from rag.pipeline import RagPipeline, make_indexer

    settings = milvus_settings(tmp_path_factory.mktemp("milvus"))
    make_indexer(settings, embedder).index_paths([SEEDS])
    p = RagPipeline(settings)
    p.embedder = p.indexer.embedder = embedder
    p.warm_up(generator=False)
    return p


@pytest.fixture(scope="module")
def faiss_pipeline(seed_index, embedder):
    from rag.config import Settings
    from rag.pipeline import RagPipeline

    p = RagPipeline(Settings(index_dir=seed_index))
    p.embedder = embedder
    p.warm_up(generator=False)
    return p


def test_the_seed_index_in_milvus_is_the_faiss_one(milvus_pipeline, faiss_pipeline):
    from index.milvus_store import MilvusStore

    store = milvus_pipeline.store
    assert isinstance(store, MilvusStore) and store.generation == 1
    assert len(store.docs) == 1 and len(store.chunks) == len(faiss_pipeline.store.chunks)
    assert len(store.sentences) == len(faiss_pipeline.store.sentences)
    for q in QUESTIONS:
        spans = {mode: [[(p.doc_id, p.start, p.end) for p in pipe.retrieve(q, 3, mode)]
                        for pipe in (milvus_pipeline, faiss_pipeline)] for mode in ("dense", "hybrid")}
        assert spans["dense"][0] == spans["dense"][1]  # the same vectors: the same order
        assert spans["hybrid"][0][0] == spans["hybrid"][1][0]  # BM25 in Milvus, fused here: the same best chunk
        bm25 = milvus_pipeline.retrieve(q, 3, "bm25")
        assert bm25 and bm25[0].score > 0


def test_evidence_reads_the_stored_sentence_vectors(milvus_pipeline, faiss_pipeline, embedder):
    question = QUESTIONS[0]
    mine = milvus_pipeline.evidence([question], 3)
    theirs = faiss_pipeline.evidence([question], 3)
    assert [(p.start, p.end) for p in mine] == [(p.start, p.end) for p in theirs]
    doc, start, end = mine[-1].doc_id, mine[-1].start, mine[-1].end
    stored = milvus_pipeline.store.sentences.vector(doc, start, end)
    assert stored is not None and float(stored @ embedder.embed([mine[-1].text])[0]) > 0.999
    assert milvus_pipeline.retriever.bm25.idf("gazoduc") > milvus_pipeline.retriever.bm25.idf("poutin") > 0


def test_add_replace_and_delete_a_document(tmp_path, embedder):
    from index.extract import document_from_text
    from index.milvus_store import literal
    from rag.pipeline import RagPipeline, make_indexer

    settings = milvus_settings(tmp_path)
    indexer = make_indexer(settings, embedder)
    indexer.index_documents([document_from_text("seed.txt", "Le port a été agrandi en 1998. Il accueille des ferries.")])
    report = indexer.index_documents([document_from_text(ODD_ID, "Le phare de Kerbrat mesure 47 mètres.")])
    assert report.added == [ODD_ID] and report.total_docs == 2
    p = RagPipeline(settings)
    p.embedder = embedder
    p.warm_up(generator=False)
    hit = p.retrieve("Combien mesure le phare de Kerbrat ?", 1)[0]
    assert hit.doc_id == ODD_ID and p.store.text_of(ODD_ID) == "Le phare de Kerbrat mesure 47 mètres."
    old_chunks = p.store.docs[ODD_ID].chunk_ids
    report = indexer.index_documents([document_from_text(ODD_ID, "Le phare de Kerbrat a été repeint en rouge en 2021.")])
    assert report.replaced == [ODD_ID] and report.total_docs == 2
    p.reload_index()
    record = p.store.docs[ODD_ID]
    assert record.chunk_ids != old_chunks and record.chunk_count == 1 and "repeint" in record.text
    assert all("47 mètres" not in h.text for h in p.retrieve("Combien mesure le phare ?", 5))
    assert indexer.index_documents([], delete=[ODD_ID]).deleted == [ODD_ID]
    p.reload_index()
    assert ODD_ID not in p.store.docs and len(p.store.docs) == 1
    assert p.store.count("chunks", f"doc_id == {literal(ODD_ID)}") == 0
    assert all(h.doc_id == "seed.txt" for h in p.retrieve("phare de Kerbrat", 5))


def test_a_document_longer_than_a_milvus_text_field_is_stored_whole(tmp_path, embedder):
    from index.extract import document_from_text
    from rag.pipeline import make_indexer
    from rag.retrieval.stores import open_store

    text = " ".join(f"La longue phrase numéro {n} décrit le quai du port de commerce, ses grues et ses navires."
                    for n in range(450))  # about 40,000 characters: three parts of 16,000
    make_indexer(milvus_settings(tmp_path), embedder).index_documents([document_from_text("long.txt", text)])
    record = open_store(milvus_settings(tmp_path)).docs["long.txt"]
    assert record.text == text and record.chars == len(text) and record.chunk_count > 20


def test_a_milvus_lite_file_is_one_process_at_a_time(tmp_path, milvus_pipeline):
    """Opened by this test process already: a server on the same file says why it cannot start."""
    uri = milvus_pipeline.store.config.uri
    with pytest.raises(RuntimeError, match="another process"):
        with running_server(milvus_pipeline.settings.index_dir, timeout=20,
                            env={"RAG_STORE": "milvus", "RAG_MILVUS_URI": uri}):
            pass


def test_two_replicas_share_one_store(tmp_path, seed_text):
    """Two `rag serve` processes on one Milvus Lite server: a document added through one is found and answered
    through the other, and a deletion through the other is seen by the first, without a restart."""
    env = {"RAG_STORE": "milvus", "RAG_CREATE_INDEX": "1"}
    with milvus_server(tmp_path / "milvus") as milvus:
        env["RAG_MILVUS_URI"] = milvus.base
        with running_server(tmp_path / "a", env=env) as a, running_server(tmp_path / "b", env=env) as b:
            added = httpx.post(f"{a.base}/v1/documents", json={"doc_id": "phare.txt",
                                                               "text": "Le phare de Kerbrat mesure 47 mètres."}, timeout=120)
            assert added.status_code == 201
            found = httpx.post(f"{b.base}/v1/search", json={"query": "phare de Kerbrat", "top_k": 1}, timeout=60).json()
            assert found["passages"][0]["doc_id"] == "phare.txt"
            answer = httpx.post(f"{b.base}/v1/ask", json={"question": "Combien mesure le phare de Kerbrat ?"},
                                timeout=180).json()
            assert not answer["abstained"] and "47" in answer["answer"]
            assert answer["citations"][0]["quote"] == "Le phare de Kerbrat mesure 47 mètres."
            assert httpx.get(f"{b.base}/readyz", timeout=10).json()["documents"] == 1
            assert httpx.delete(f"{b.base}/v1/documents/phare.txt", timeout=60).status_code == 200
            assert httpx.get(f"{a.base}/v1/documents/phare.txt", timeout=10).status_code == 404
            assert httpx.post(f"{a.base}/v1/search", json={"query": "phare"}, timeout=60).json()["passages"] == []


def test_two_writers_replacing_one_document_never_leave_it_empty(tmp_path, embedder, monkeypatch):
    """Two replicas replace a document at the same moment: the save that began last keeps its text, and the
    document is never left without chunks (the other version's may stay until the next save of the document)."""
    import time as clock

    from index.chunk import SentenceChunker
    from index.extract import document_from_text
    from rag.pipeline import make_indexer
    from rag.retrieval.stores import open_store

    settings = milvus_settings(tmp_path)
    make_indexer(settings, embedder).index_documents([document_from_text("d.txt", "Le phare mesure 47 mètres.")])
    first, second = open_store(settings), open_store(settings)
    indexer = make_indexer(settings, embedder)

    def stage(store, text):  # what Indexer.index_documents does, short of save()
        doc = document_from_text("d.txt", text)
        chunks = SentenceChunker(indexer.chunker_config, embedder.count_tokens).run(doc)
        spans = [(c.start, c.end) for c in chunks]
        store.upsert(doc.doc_id, doc.sha256, doc.text, "test", chunks, embedder.embed([c.text for c in chunks]),
                     spans, embedder.embed([doc.text[s:e] for s, e in spans]))

    stage(first, "Le phare a été repeint en rouge.")
    stage(second, "Le phare a été repeint en vert.")
    now = clock.time_ns()
    second.save()  # began last
    monkeypatch.setattr(clock, "time_ns", lambda: now - 10**9)
    first.save()  # began a second earlier, ends last
    store = open_store(settings)
    record = store.docs["d.txt"]
    assert "vert" in record.text and record.chunk_ids
    assert "47" not in " ".join(h.text for h in [store.chunks[i] for i in record.chunk_ids])
    monkeypatch.undo()
    stage(first, "Le phare a été repeint en bleu.")
    first.save()  # the next save of the document leaves only its own version
    assert store.count("chunks", 'doc_id == "d.txt"') == len(store.docs["d.txt"].chunk_ids) >= 1
    assert len(store.docs) == 1 and "bleu" in store.docs["d.txt"].text
