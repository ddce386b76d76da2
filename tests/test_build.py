"""Indexing under faults, with the real `rag index` in subprocesses: SIGKILL mid-run, two runs at once on one index,
a file-size limit (RLIMIT_FSIZE) cutting the write, and the per-document limits (chunks, PDF pages)."""
import os
import random
import resource
import subprocess
import sys
import time

import pytest

from index.document import Document, TooLarge
from index.store import IndexStore, leftovers
from rag.config import Settings
from rag.pipeline import make_indexer
from tests.conftest import ROOT, SEED_DOC

SEED_ID = SEED_DOC.name


def _folder(path, name: str, n: int):
    path.mkdir()
    for i in range(n):
        (path / f"{name}-{i}.txt").write_text(
            " ".join(f"Le registre {name} n° {i}.{j} du port de Kerbrat mentionne {j * 7 % 97} navires." for j in range(40)),
            encoding="utf-8")
    return path


def _rag_index(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "rag.cli", "index", *map(str, args), "--quiet"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_a_document_over_the_chunk_limit_is_refused_before_anything_is_embedded(writable_index, embedder):
    indexer = make_indexer(Settings(index_dir=writable_index, max_chunks_per_document=3), embedder)
    before = IndexStore.open(writable_index)
    long_doc = Document("long.txt", " ".join(f"La phrase numéro {i} parle du port de Kerbrat." for i in range(400)))
    with pytest.raises(TooLarge, match=r"long.txt: \d+ chunks; the limit for one document is 3 \(RAG_MAX_CHUNKS_PER_DOCUMENT\)"):
        indexer.index_documents([long_doc])
    after = IndexStore.open(writable_index)
    assert after.generation == before.generation and list(after.docs) == [SEED_ID]


def test_rag_index_extracts_under_the_api_limits(writable_index, embedder, tmp_path):
    from api.testing import minimal_pdf

    (tmp_path / "registre.pdf").write_bytes(minimal_pdf(["Page un.", "Page deux.", "Page trois."]))
    indexer = make_indexer(Settings(index_dir=writable_index, max_pdf_pages=2), embedder)
    with pytest.raises(TooLarge, match=r"registre.pdf: the PDF has 3 pages; the limit is 2 \(RAG_MAX_PDF_PAGES\)"):
        indexer.index_paths([tmp_path])
    assert list(IndexStore.open(writable_index).docs) == [SEED_ID]


def test_sigkill_during_rag_index_leaves_the_old_or_the_new_index_and_the_next_run_completes(writable_index, tmp_path):
    docs = _folder(tmp_path / "docs", "a", 6)
    rng = random.Random(21)
    for trial in range(2):  # once at a random moment, once as soon as the new generation is being written
        run = _rag_index(docs, "--index-dir", writable_index)
        started = time.monotonic()
        if trial == 0:
            time.sleep(rng.uniform(2, 8))
        else:
            while time.monotonic() - started < 120 and run.poll() is None and \
                    not any(n.startswith(".tmp-") for n in os.listdir(writable_index)):
                time.sleep(0.0005)
        run.kill()
        run.communicate()
        docs_now = set(IndexStore.open(writable_index).docs)  # opens: never half an index
        assert docs_now in ({SEED_ID}, {SEED_ID} | {f"a-{i}.txt" for i in range(6)})
        rerun = _rag_index(docs, "--index-dir", writable_index)
        out, err = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, err
        assert set(IndexStore.open(writable_index).docs) == {SEED_ID} | {f"a-{i}.txt" for i in range(6)}
        assert leftovers(writable_index) == []  # the next run swept what the killed one left
        # Back to the seed alone for the next trial.
        make_indexer(Settings(index_dir=writable_index)).index_documents([], delete=[f"a-{i}.txt" for i in range(6)])


def test_two_rag_index_runs_at_once_both_end_up_in_the_index(writable_index, tmp_path):
    first, second = _folder(tmp_path / "first", "p", 3), _folder(tmp_path / "second", "q", 3)
    runs = [_rag_index(first, "--index-dir", writable_index), _rag_index(second, "--index-dir", writable_index)]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    store = IndexStore.open(writable_index)
    assert set(store.docs) == {SEED_ID} | {f"p-{i}.txt" for i in range(3)} | {f"q-{i}.txt" for i in range(3)}
    assert store.vectors.size == len(store.chunks)
    assert leftovers(writable_index) == []


def test_a_write_cut_by_a_file_size_limit_is_one_line_and_the_old_index_stays(writable_index, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(SEED_DOC.read_text(encoding="utf-8") * 40, encoding="utf-8")  # about 150 KB of text to store
    before = IndexStore.open(writable_index)

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    run = _rag_index(big, "--index-dir", writable_index, preexec_fn=limited)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 1
    assert err.strip() == (f"rag index: error: cannot write the index to {writable_index}: file too large; "
                           "the previous index is unchanged")
    after = IndexStore.open(writable_index)
    assert after.generation == before.generation and list(after.docs) == [SEED_ID]
    assert leftovers(writable_index) == []
