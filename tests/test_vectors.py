"""FAISS vector index: exact search while small, IVF from the size threshold, read memory-mapped and still writable."""
import numpy as np
import pytest

import index.vectors as vectors
from index.vectors import VectorIndex


def unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_small_indexes_stay_exact(tmp_path):
    index = VectorIndex(32)
    index.add(np.arange(100), unit(100))
    index.maybe_upgrade(list(range(100)))
    assert index.kind == "flat"
    assert index.search(unit(100)[7], 1)[0][0] == 7


def test_large_indexes_become_ivf_and_keep_their_ids(monkeypatch):
    monkeypatch.setattr(vectors, "IVF_THRESHOLD", 3000)
    x = unit(4000)
    index = VectorIndex(32)
    index.add(np.arange(10, 4010), x)
    index.maybe_upgrade(list(range(10, 4010)))
    assert index.kind == "ivf"
    hits = [index.search(x[i], 1)[0][0] for i in range(0, 4000, 97)]
    assert np.mean([h == i + 10 for h, i in zip(hits, range(0, 4000, 97))]) > 0.9  # approximate, but close
    assert np.allclose(index.reconstruct(10), x[0], atol=1e-6)


@pytest.mark.parametrize("size", [200, 4000])
def test_read_memory_mapped_then_written(tmp_path, monkeypatch, size):
    """A read index is mapped from its file (FAISS would abort on a write to it): a write reads it into memory first,
    and the file itself never changes."""
    monkeypatch.setattr(vectors, "IVF_THRESHOLD", 3000)
    x = unit(size)
    index = VectorIndex(32)
    index.add(np.arange(size), x)
    index.maybe_upgrade(list(range(size)))
    path = tmp_path / "v.faiss"
    index.write(path)
    before = path.read_bytes()
    mapped = VectorIndex.read(path, 32)
    assert mapped._mapped_from == path and mapped.size == size
    assert np.allclose(mapped.reconstruct(5), x[5], atol=1e-6)
    mapped.remove([0, 1, 2])
    mapped.add(np.asarray([size + 1]), unit(1, seed=9))
    assert mapped._mapped_from is None and mapped.size == size - 2
    assert mapped.search(unit(1, seed=9)[0], 1)[0][0] == size + 1
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="dimension"):
        VectorIndex.read(path, 16)


def test_past_the_second_threshold_vectors_are_stored_in_8_bits(monkeypatch):
    monkeypatch.setattr(vectors, "IVF_THRESHOLD", 2000)
    monkeypatch.setattr(vectors, "SQ8_THRESHOLD", 3000)
    x = unit(3500)
    index = VectorIndex(32)
    index.add(np.arange(2500), x[:2500])
    index.maybe_upgrade(list(range(2500)))
    assert index.kind == "ivf"
    index.add(np.arange(2500, 3500), x[2500:])
    index.maybe_upgrade(list(range(3500)))
    assert index.kind == "ivf-sq8" and index.size == 3500
    assert abs(float(index.reconstruct(3400) @ x[3400]) - 1) < 0.01
    assert np.mean([index.search(x[i], 1)[0][0] == i for i in range(0, 3500, 50)]) > 0.9
