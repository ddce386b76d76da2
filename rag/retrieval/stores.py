"""Which store an index lives in (RAG_STORE): a FAISS folder, or Milvus collections that several replicas share,
and the retriever that searches it. The rag layer knows how text is analysed for BM25 (rag.text.textnorm); it hands
that to the Milvus store here."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from index.location import StoreLocation
from rag.retrieval.retrieve import HybridRetriever
from rag.text.textnorm import lexical_fields


def store_location(settings, index_dir: Path | None = None) -> StoreLocation:
    index_dir = Path(index_dir or settings.index_dir)
    if settings.store != "milvus":
        return StoreLocation(index_dir)
    from index.milvus_store import MilvusConfig

    uri = settings.milvus_uri or str(index_dir / "milvus.db")
    if "://" not in uri:
        if not uri.endswith(".db"):
            raise ValueError(f"RAG_MILVUS_URI={uri!r}: a Milvus Lite file must end in .db (or give http://host:port)")
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    return StoreLocation(index_dir, MilvusConfig(uri, settings.milvus_collection, settings.milvus_api_key,
                                                 partial(lexical_fields, char_size=settings.char_ngram_size),
                                                 settings.milvus_index_type, settings.remote_timeout_s))


def open_store(settings):
    """The index named by the settings (IndexMissing when there is none)."""
    return store_location(settings).open()


def make_retriever(store, embedder, settings) -> HybridRetriever:
    """The retriever for `store` (rag.config.Settings for its weights): in this process over a FAISS index and
    in-memory BM25, or searching in Milvus for a Milvus store (rag/retrieval/milvus.py)."""
    options = dict(candidates=settings.candidates, rrf_k=settings.rrf_k, dense_weight=settings.rrf_dense_weight,
                   fusion=settings.fusion, char_weight=settings.char_ngram_weight, char_size=settings.char_ngram_size,
                   sentence_weight=settings.sentence_weight)
    if getattr(store, "remote", False):
        from rag.retrieval.milvus import MilvusRetriever  # it subclasses HybridRetriever

        return MilvusRetriever(store, embedder, milvus_fusion=settings.milvus_fusion, **options)
    return HybridRetriever(store, embedder, **options)
