"""Where an index lives, and the one way to open, create, lock and sweep it, whichever store holds it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index.store import IndexStore, sweep, write_lock


@dataclass(frozen=True)
class StoreLocation:
    """Where an index lives: a FAISS folder (the default), or Milvus collections (`milvus`: an
    index.milvus_store.MilvusConfig) that several processes share. Opening, creating and locking go through here."""

    index_dir: Path
    milvus: object | None = None

    def exists(self) -> bool:
        if self.milvus is not None:
            from index.milvus_store import MilvusStore  # only for a Milvus index (its client is optional)

            return MilvusStore.exists(self.milvus)
        return IndexStore.exists(self.index_dir)

    def open(self):
        if self.milvus is not None:
            from index.milvus_store import MilvusStore  # only for a Milvus index (its client is optional)

            return MilvusStore.open(self.milvus)
        return IndexStore.open(self.index_dir)

    def open_or_create(self, embedder: str, dimension: int, chunker: dict):
        if self.milvus is not None:
            from index.milvus_store import MilvusStore  # only for a Milvus index (its client is optional)

            return MilvusStore.open_or_create(self.milvus, embedder, dimension, chunker)
        return IndexStore.open_or_create(self.index_dir, embedder, dimension, chunker)

    def lock(self):
        """Writers in this process and others on this machine take turns (Milvus orders writes between machines)."""
        return write_lock(self.index_dir)

    def sweep(self) -> list[str]:
        """Leftovers of killed writers removed (FAISS folders; Milvus rows are versioned by their save instead)."""
        return [] if self.milvus is not None else sweep(self.index_dir)
