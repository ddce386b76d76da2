"""Which store an index lives in (RAG_STORE): a FAISS folder, or Milvus collections that several replicas share.
The rag layer knows how text is analysed for BM25 (rag.textnorm); it hands that to the Milvus store here."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from index.store import StoreLocation
from rag.textnorm import char_ngrams, terms


def lexical_fields(text: str, language: str = "french", char_size: int = 4) -> tuple[str, str]:
    """What Milvus's BM25 indexes for a text: rag's word terms and character n-grams, space-separated ('#', which
    pads n-grams, becomes '_': a word character for any tokenizer)."""
    return " ".join(terms(text, language)), " ".join(g.replace("#", "_") for g in char_ngrams(text, char_size))


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
