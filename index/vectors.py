"""FAISS vector index over normalised embeddings (inner product = cosine).

As in txtai's ann/dense/faiss.py, the index type follows the corpus size: exact search below 50,000 vectors, an
inverted file (IVF, 4·√n lists up to 4,096, a sixteenth of them probed) from there, when clustering pays off, and
from 10^6 vectors an IVF storing 8 bits a dimension (SQ8: a quarter of the memory and disk; cosines move by about
0.001). All keep stable int64 ids, so one document's vectors can be removed and replaced without re-embedding the
rest; HNSW, faster still, cannot remove a vector, which every document update needs. An index changes type at a
save that finds it past a threshold; vectors are copied over in batches, not all at once.

Indexes are read memory-mapped: a process maps the file instead of copying it, pages come in as searches touch
them, and processes serving the same generation share them. A mapped index is read-only (FAISS aborts the process on
a write to it), so a write first reads it into memory.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

IVF_THRESHOLD = 50_000
SQ8_THRESHOLD = 1_000_000
MAX_LISTS = 4096
TRAIN_PER_LIST = 40  # k-means points per IVF list (FAISS warns under 39): training stays minutes at 10^6 vectors
KINDS = ("flat", "ivf", "ivf-sq8")
COPY_BATCH = 100_000


def _faiss():
    try:
        import faiss
    except ImportError:
        raise RuntimeError("install faiss-cpu to enable vector search") from None
    return faiss


@contextmanager
def _one_thread():
    """One query searches faster on one thread: OpenMP's fork and join cost more than the split saves (10^4 vectors:
    0.3 ms against 1.3 ms on 2 cores, and 0.5 ms against 24 ms while other processes keep the cores busy). The
    setting is the calling thread's: builds and training elsewhere keep all cores."""
    faiss = _faiss()
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class VectorIndex:
    def __init__(self, dimension: int, index=None, mapped_from: Path | None = None):
        self.dimension = dimension
        self._index = index if index is not None else self._flat(dimension)
        self._mapped_from = mapped_from  # the file a read-only memory-mapped index comes from

    @staticmethod
    def _flat(dimension: int):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        name = type(_faiss().downcast_index(self._index)).__name__
        return "ivf-sq8" if "ScalarQuantizer" in name else "ivf" if "IVF" in name else "flat"

    def _writable(self) -> None:
        if self._mapped_from is not None:
            self._index = _faiss().read_index(str(self._mapped_from))
            self._mapped_from = None

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """One document's vectors at a time (upsert): on one thread, as a search (an IVF add on 2 busy cores: 11 ms
        with OpenMP against 0.1 ms without, which made bulk ingest into an IVF index a hundred times slower)."""
        if len(ids):
            self._writable()
            with _one_thread():
                self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._writable()
            with _one_thread():
                self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def reconstruct(self, i: int) -> np.ndarray:
        """The stored vector of id `i` (an exact index keeps an id map; IVF builds one on first use, a hash table:
        ids have gaps once documents were replaced)."""
        try:
            return self._index.reconstruct(int(i))
        except RuntimeError:
            faiss = _faiss()
            faiss.extract_index_ivf(self._index).set_direct_map_type(faiss.DirectMap.Hashtable)
            return self._index.reconstruct(int(i))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        with _one_thread():
            scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                                             min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def maybe_upgrade(self, all_ids: list[int]) -> None:
        """Change to the index type the size calls for (see the module's docstring); vectors are read back from the
        index, not re-embedded, and copied in batches."""
        n = len(all_ids)
        target = "ivf-sq8" if n >= SQ8_THRESHOLD else "ivf" if n >= IVF_THRESHOLD else "flat"
        if KINDS.index(target) <= KINDS.index(self.kind):
            return
        faiss = _faiss()
        ids = np.asarray(all_ids, dtype=np.int64)
        if self.kind != "flat":  # reading vectors back from an IVF needs its id map
            faiss.extract_index_ivf(self._index).set_direct_map_type(faiss.DirectMap.Hashtable)
        nlist = min(MAX_LISTS, int(4 * math.sqrt(n)))
        storage = "SQ8" if target == "ivf-sq8" else "Flat"
        ivf = faiss.index_factory(self.dimension, f"IVF{nlist},{storage}", faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(np.random.default_rng(0).permutation(n)[: TRAIN_PER_LIST * nlist])
        ivf.train(np.ascontiguousarray(self._index.reconstruct_batch(ids[sample]), dtype=np.float32))
        for start in range(0, n, COPY_BATCH):
            batch = ids[start:start + COPY_BATCH]
            ivf.add_with_ids(np.ascontiguousarray(self._index.reconstruct_batch(batch), dtype=np.float32), batch)
        faiss.extract_index_ivf(ivf).nprobe = max(8, nlist // 16)
        self._index, self._mapped_from = ivf, None

    def write(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, dimension: int) -> "VectorIndex":
        faiss = _faiss()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        if index.d != dimension:
            raise ValueError(f"{path}: vectors have dimension {index.d}, manifest says {dimension}")
        return cls(dimension, index, mapped_from=Path(path))
