"""FAISS vector index over normalised embeddings (inner product = cosine).

As in txtai's ann/dense/faiss.py, the index type follows the corpus size: exact search for small corpora,
an inverted file (IVF) once there are enough vectors for clustering to pay off. Both keep stable int64 ids so
one document's chunks can be removed and replaced without re-embedding the rest.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

IVF_THRESHOLD = 50_000


def _faiss():
    try:
        import faiss
    except ImportError:
        raise RuntimeError("install faiss-cpu to enable vector search") from None
    return faiss


class VectorIndex:
    def __init__(self, dimension: int, index=None):
        self.dimension = dimension
        self._index = index if index is not None else self._flat(dimension)

    @staticmethod
    def _flat(dimension: int):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        return "ivf" if "IVF" in type(_faiss().downcast_index(self._index)).__name__ else "flat"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def reconstruct(self, i: int) -> np.ndarray:
        """The stored vector of id `i` (an exact index keeps an id map; IVF builds one on first use)."""
        try:
            return self._index.reconstruct(int(i))
        except RuntimeError:
            _faiss().extract_index_ivf(self._index).make_direct_map()
            return self._index.reconstruct(int(i))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def maybe_upgrade(self, all_ids: list[int]) -> None:
        """Switch from exact search to IVF once the corpus is large enough (vectors reconstructed, not re-embedded)."""
        if self.kind != "flat" or self.size < IVF_THRESHOLD:
            return
        faiss = _faiss()
        vectors = np.vstack([self._index.reconstruct(int(i)) for i in all_ids]).astype(np.float32)
        nlist = int(4 * math.sqrt(len(all_ids)))
        ivf = faiss.index_factory(self.dimension, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        ivf.add_with_ids(vectors, np.asarray(all_ids, dtype=np.int64))
        faiss.extract_index_ivf(ivf).nprobe = max(8, nlist // 16)
        self._index = ivf

    def write(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, dimension: int) -> "VectorIndex":
        index = _faiss().read_index(str(path))
        if index.d != dimension:
            raise ValueError(f"{path}: vectors have dimension {index.d}, manifest says {dimension}")
        return cls(dimension, index)
