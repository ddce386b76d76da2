import errno
import json
import os

import pytest

from index.store import IndexStore, IndexWriteError, ManifestMismatch, leftovers, sweep
from rag.config import Settings
from rag.pipeline import make_indexer


def _indexer(index_dir, embedder, **overrides):
    return make_indexer(Settings(index_dir=index_dir, **overrides), embedder)


def test_reindexing_unchanged_files_adds_nothing(writable_index, embedder, seed_text):
    from tests.conftest import SEEDS

    before = IndexStore.open(writable_index)
    report = _indexer(writable_index, embedder).index_paths([SEEDS])
    after = IndexStore.open(writable_index)
    assert report.unchanged == ["000_c35498bb09d10278.txt"] and report.chunks_written == 0
    assert after.generation == before.generation  # nothing rewritten
    assert after.chunks.keys() == before.chunks.keys()
    assert after.vectors.size == len(after.chunks)


def test_changed_file_replaces_its_chunks(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Le chat dort sur le canapé. Il fait beau.", encoding="utf-8")
    (docs / "b.txt").write_text("Paris est la capitale de la France.", encoding="utf-8")
    index_dir = tmp_path / "index"
    _indexer(index_dir, embedder).index_paths([docs])
    first = IndexStore.open(index_dir)
    b_ids = first.docs["b.txt"].chunk_ids
    (docs / "a.txt").write_text("Le chien court dans le jardin.", encoding="utf-8")
    report = _indexer(index_dir, embedder).index_paths([docs])
    second = IndexStore.open(index_dir)
    assert report.replaced == ["a.txt"] and report.unchanged == ["b.txt"]
    assert second.docs["b.txt"].chunk_ids == b_ids  # the other document is untouched
    texts = [c.text for c in second.chunks.values()]
    assert "Le chien court dans le jardin." in texts and not any("chat" in t for t in texts)
    assert second.vectors.size == len(second.chunks)
    hits = second.search(embedder.embed(["chien jardin"])[0], 1)
    assert second.chunks[hits[0][0]].doc_id == "a.txt"


def test_manifest_mismatch_is_refused(writable_index, embedder):
    from tests.conftest import SEEDS

    with pytest.raises(ManifestMismatch, match="chunker"):
        _indexer(writable_index, embedder, chunk_tokens=64).index_paths([SEEDS])
    current = writable_index / (writable_index / "CURRENT").read_text().strip()
    manifest = json.loads((current / "manifest.json").read_text())
    manifest["embedder"] = "another-model"
    (current / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestMismatch, match="embedder"):
        _indexer(writable_index, embedder).index_paths([SEEDS])


def test_failed_write_leaves_the_index_intact(writable_index, embedder, tmp_path, monkeypatch):
    docs = tmp_path / "new"
    docs.mkdir()
    (docs / "n.txt").write_text("Un nouveau document.", encoding="utf-8")
    before = IndexStore.open(writable_index)

    def broken_write(self, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("index.vectors.VectorIndex.write", broken_write)
    with pytest.raises(IndexWriteError, match=f"^cannot write the index to {writable_index}: disk full;"):
        _indexer(writable_index, embedder).index_paths([docs])
    after = IndexStore.open(writable_index)
    assert after.docs.keys() == before.docs.keys() and after.generation == before.generation
    assert not [p for p in writable_index.iterdir() if p.name.startswith(".tmp-")]


def test_bad_file_in_batch_changes_nothing(writable_index, embedder, tmp_path):
    from index.document import IngestError

    docs = tmp_path / "batch"
    docs.mkdir()
    (docs / "good.txt").write_text("Texte correct.", encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(IngestError):
        _indexer(writable_index, embedder).index_paths([docs])
    assert list(IndexStore.open(writable_index).docs) == ["000_c35498bb09d10278.txt"]


def test_index_without_sentence_vectors_still_answers(writable_index):
    """An index written before sentence vectors were stored opens as it is; evidence embeds its sentences instead."""
    from rag.pipeline import RagPipeline

    current = writable_index / (writable_index / "CURRENT").read_text().strip()
    manifest = json.loads((current / "manifest.json").read_text())
    del manifest["sentences"]
    (current / "manifest.json").write_text(json.dumps(manifest))
    for name in ("sentences.faiss", "sentences.jsonl"):
        (current / name).unlink()
    pipeline = RagPipeline(Settings(index_dir=writable_index))
    pipeline.warm_up(generator=False)
    assert not pipeline.store.manifest.sentences and len(pipeline.store.sentences) == 0
    passages = pipeline.evidence(["Quand l'approvisionnement via le gazoduc doit-il débuter ?"], 3)
    assert "2027" in passages[-1].text  # the best sentence, right before the question


def test_embedder_mismatch_names_the_setting_to_use(writable_index, embedder):
    from tests.conftest import SEEDS

    minilm = make_indexer(Settings(index_dir=writable_index, embedder="all-MiniLM-L6-v2"))
    with pytest.raises(ManifestMismatch, match=f"set RAG_EMBEDDER={embedder.name} to use this index"):
        minilm.index_paths([SEEDS])


def test_sweep_removes_what_killed_writers_left(writable_index):
    live = (writable_index / "CURRENT").read_text().strip()
    previous = writable_index / "gen-000000"  # the generation before the live one is kept, as save() keeps it
    previous.mkdir()
    (writable_index / ".tmp-k1ll3d").mkdir()
    (writable_index / ".tmp-k1ll3d" / "docs.jsonl").write_text("{half a line")
    (writable_index / ".CURRENT.tmp").write_text("gen-000009\n")
    (writable_index / "gen-000009").mkdir()  # renamed into place, but CURRENT never pointed at it
    assert sorted(p.name for p in leftovers(writable_index)) == [".CURRENT.tmp", ".tmp-k1ll3d", "gen-000009"]
    assert sweep(writable_index) == [".CURRENT.tmp", ".tmp-k1ll3d", "gen-000009"]
    assert leftovers(writable_index) == [] and previous.is_dir() and (writable_index / live).is_dir()
    assert list(IndexStore.open(writable_index).docs) == ["000_c35498bb09d10278.txt"]
    assert sweep(writable_index) == []


def test_faiss_write_errors_read_as_one_plain_cause():
    from index.store import _write_cause

    faiss_message = ("Error in void faiss::write_index(const Index*, IOWriter*, int) at /project/faiss/impl/"
                     "index_write.cpp:499: Error: 'ret == (size * 4)' failed: write error in /x/vectors.faiss: "
                     "99918 != 1536000 (File too large)")
    assert _write_cause(RuntimeError(faiss_message)) == "file too large"
    assert _write_cause(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) == "disk full"
    assert _write_cause(OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))) == "File name too long"
