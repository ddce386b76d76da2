"""Scale figures: ingest rate, index size on disk, memory and retrieval latency, for the FAISS store and Milvus Lite.

    python -m eval.scale                      # 10^4 and 10^5 chunks (FAISS, Milvus Lite) and 10^6 (FAISS)
    python -m eval.scale --sizes 1000 --pool 30 --real 40 --queries 20    # a quick check (tests/test_scale.py)

Corpus: real French text. The sentences of the PIAF dev paragraphs (../shared/eval/piaf-dev) are recombined, 2 to 4
at random per chunk, one chunk per document; the PIAF questions are the queries. Vectors:
- every distinct sentence is embedded for real once (multilingual-e5-small, "passage: "), so the sentence vectors of
  every corpus are real: a recombined chunk holds the very same sentences;
- the first --real chunks (2,000 by default) are embedded for real, which also gives the embedding rate;
- every other chunk vector is synthetic: the normalised mean of its sentences' real vectors, plus Gaussian noise
  with the per-dimension spread of (real vector - that mean) measured on the real chunks, normalised again;
- the questions are embedded for real ("query: ") before any timing: query embedding is excluded.
Embedding 10^5 chunks for real would take about 3 hours on the 2-core machine (the rate is printed).

Each size and store is built in one subprocess (ingest: the store's own work, vectors given) and queried in another
(open, BM25 build, memory, latency), so memory figures are those of a fresh process. Retrieval is the whole hybrid
retrieval of rag.retrieval.retrieve (chunk vectors, sentence vectors, word BM25, character n-gram BM25, fusion).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from eval.cli import ROOT

PIAF = ROOT.parent / "shared" / "eval" / "piaf-dev"
CHUNKER = {"max_tokens": 254, "overlap_tokens": 40}
SIZES = (10_000, 100_000, 1_000_000)
BATCH = 50_000  # chunks whose vectors are made at once
STAGE = 200_000  # larger corpora are ingested in runs of this many chunks, each ending with a save (as `rag index`
#                  run on one folder after another): the flat indexes never grow past one run
MILVUS_MAX = 100_000  # Milvus Lite (pure Python) ingests about a hundred chunks a second here: 10^6 is hours


# ---- pool: sentences, questions and their real vectors -------------------------------------------------------------
def pool_sentences(paragraphs: int | None) -> tuple[list[str], list[dict]]:
    """The distinct sentences of the PIAF paragraphs, and the questions on those paragraphs, each with the ids of
    the sentences that hold its answer (a chunk holding one of them is a hit)."""
    from index.sentences import sentence_spans

    files = sorted((PIAF / "docs_par").glob("*.txt"))[:paragraphs]
    sentences: dict[str, int] = {}
    by_paragraph: dict[str, list[int]] = {}
    for f in files:
        text = f.read_text(encoding="utf-8")
        for s, e in sentence_spans(text):
            sentence = " ".join(text[s:e].split())
            if len(sentence) >= 20:
                by_paragraph.setdefault(f.stem, []).append(sentences.setdefault(sentence, len(sentences)))
    pool = list(sentences)
    questions = []
    for line in (PIAF / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line) if line else None
        if q and q["doc_id"] in by_paragraph:
            gold = [i for i in by_paragraph[q["doc_id"]] if any(" ".join(a.split()) in pool[i] for a in q["answers"])]
            questions.append({"question": q["question"], "gold": gold})
    return pool, questions


def compositions(size: int, pool: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Chunk i holds sentences ids[i, :counts[i]]; the first chunks are the same whatever the size."""
    counts = np.random.default_rng(seed).integers(2, 5, size)
    ids = np.random.default_rng(seed + 1).integers(0, pool, (size, 4))
    return counts, ids


def chunk_text(sentences: list[str], row: np.ndarray, count: int) -> tuple[str, list[tuple[int, int]], list[int]]:
    parts, spans, at = [], [], 0
    for j in row[:count]:
        sentence = sentences[int(j)]
        parts.append(sentence)
        spans.append((at, at + len(sentence)))
        at += len(sentence) + 1
    return " ".join(parts), spans, [int(j) for j in row[:count]]


def prepare(args) -> Path:
    """Embed the pool (cached under --cache): sentence vectors, real chunk vectors, question vectors, noise."""
    from index.embedders import make_embedder

    sentences, questions = pool_sentences(args.pool)
    questions = questions[: args.queries]
    texts_of_questions = [q["question"] for q in questions]
    key = hashlib.sha256(json.dumps([sentences, texts_of_questions, args.real]).encode()).hexdigest()[:12]
    folder = Path(args.cache) / key
    if (folder / "pool.npz").is_file():  # the vectors are cached; the questions' gold sentences are read again
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps({**meta, "questions": questions}, ensure_ascii=False))
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    embedder = make_embedder()
    embedder.warm_up()
    started = time.perf_counter()
    sentence_vectors = embedder.embed(sentences)
    sentence_rate = len(sentences) / (time.perf_counter() - started)
    counts, ids = compositions(args.real, len(sentences))
    texts = [chunk_text(sentences, ids[i], counts[i])[0] for i in range(args.real)]
    started = time.perf_counter()
    real = embedder.embed(texts)
    chunk_rate = len(texts) / (time.perf_counter() - started)
    means = np.stack([_normalised(sentence_vectors[ids[i, :counts[i]]].mean(0)) for i in range(args.real)])
    noise = (real - means).std(axis=0)
    np.savez(folder / "pool.npz", sentence_vectors=sentence_vectors, real=real, noise=noise,
             questions=embedder.embed_queries(texts_of_questions))
    meta = {"sentences": sentences, "questions": questions, "embedder": embedder.name, "dimension": embedder.dimension,
            "sentences_per_s": round(sentence_rate, 1), "chunks_per_s": round(chunk_rate, 1),
            "cosine_real_vs_mean": round(float(np.mean(np.sum(real * means, axis=1))), 3)}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
    return folder


def _normalised(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def chunk_vectors(pool: dict, counts: np.ndarray, ids: np.ndarray, start: int = 0, seed: int = 2) -> np.ndarray:
    """The vectors of chunks start, start + 1, …: real for the first --real chunks, synthetic after them."""
    sentence_vectors, real = pool["sentence_vectors"], pool["real"]
    size, dim = len(counts), sentence_vectors.shape[1]
    mask = np.arange(4)[None, :] < counts[:, None]
    means = (sentence_vectors[ids] * mask[..., None]).sum(1) / counts[:, None]
    noise = np.random.default_rng((seed, start)).normal(size=(size, dim)).astype(np.float32)
    vectors = means + noise * pool["noise"]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    known = max(0, min(len(real) - start, size))
    vectors[:known] = real[start:start + known]
    return vectors.astype(np.float32)


# ---- one store, one size: build, then query, each in a fresh process ------------------------------------------------
def open_settings(store: str, work: Path):
    from rag.config import Settings

    return Settings(index_dir=work, store=store, milvus_uri=str(work / "milvus.db"))


def build(store_kind: str, size: int, work: Path, cache: Path) -> dict:
    from index.chunk import Chunk, make_chunk_id
    from rag.retrieval.stores import store_location

    meta = json.loads((cache / "meta.json").read_text())
    pool = dict(np.load(cache / "pool.npz"))
    sentences = meta["sentences"]
    counts, ids = compositions(size, len(sentences))
    store = store_location(open_settings(store_kind, work)).open_or_create(meta["embedder"], meta["dimension"], CHUNKER)
    started = time.perf_counter()
    saving = 0.0
    for first in range(0, size, BATCH):
        vectors = chunk_vectors(pool, counts[first:first + BATCH], ids[first:first + BATCH], first)
        for i in range(first, min(size, first + BATCH)):
            text, spans, used = chunk_text(sentences, ids[i], counts[i])
            doc_id = f"scale/{i:07d}.txt"
            chunk = Chunk(make_chunk_id(doc_id, 0, text), doc_id, 0, len(text), text)
            store.upsert(doc_id, hashlib.sha256(text.encode()).hexdigest(), text, "scale", [chunk],
                         vectors[i - first:i - first + 1], spans, pool["sentence_vectors"][used])
            if (i + 1) % STAGE == 0 or i + 1 == size:
                t = time.perf_counter()
                store.save()
                saving += time.perf_counter() - t
    done = time.perf_counter()
    import resource

    return {"ingest_s": round(done - started, 1), "save_s": round(saving, 1), "chunks_per_s": round(size / (done - started)),
            "sentences": int(counts.sum()), "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


class PrecomputedQueries:
    """The questions' real vectors, embedded before timing (query embedding is excluded from the latency)."""

    def __init__(self, name: str, questions: list[str], vectors: np.ndarray):
        self.name, self._vectors = name, dict(zip(questions, vectors))
        self.dimension = vectors.shape[1]

    def warm_up(self) -> None:
        pass

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vectors[t] for t in texts])


def query(store_kind: str, size: int, work: Path, cache: Path) -> dict:
    import psutil

    from rag.retrieval.stores import make_retriever
    from rag.retrieval.stores import store_location

    meta = json.loads((cache / "meta.json").read_text())
    pool = dict(np.load(cache / "pool.npz"))
    settings = open_settings(store_kind, work)
    started = time.perf_counter()
    store = store_location(settings).open()
    opened = time.perf_counter()
    questions = [q["question"] for q in meta["questions"]]
    retriever = make_retriever(store, PrecomputedQueries(meta["embedder"], questions, pool["questions"]), settings)
    retriever.warm_up()  # FAISS: the in-memory word and n-gram BM25 indexes are built here
    ready = time.perf_counter()
    figures = {"open_s": round(opened - started, 1), "bm25_build_s": round(ready - opened, 1)}
    counts, ids = compositions(size, len(meta["sentences"]))
    for mode in ("hybrid", "dense", "bm25"):
        times, hits = [], []
        for q in meta["questions"]:
            t = time.perf_counter()
            found = retriever.run(q["question"], 10, mode)
            times.append((time.perf_counter() - t) * 1000)
            if q["gold"]:  # a chunk (one per document, "scale/0000042.txt") holding a sentence with the answer
                rows = [int(h.chunk.doc_id[6:13]) for h in found]
                hits.append(any(set(ids[r, :counts[r]].tolist()) & set(q["gold"]) for r in rows))
        times.sort()
        figures[f"{mode}_p50_ms"] = round(statistics.median(times), 1)
        figures[f"{mode}_p95_ms"] = round(times[int(0.95 * (len(times) - 1))], 1)
        figures[f"{mode}_hit@10"] = round(float(np.mean(hits)), 3) if hits else None
    figures["rss_mb"] = round(psutil.Process().memory_info().rss / 2**20)
    figures["load_1min"] = round(os.getloadavg()[0], 1)  # other processes on the machine while this was timed
    figures["index_kind"] = getattr(getattr(store, "vectors", None), "kind", "milvus")
    return figures


def disk_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def run_one(step: str, store: str, size: int, work: Path, cache: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "eval.scale", "--step", step, "--store", store, "--sizes", str(size),
                          "--work", str(work), "--cache", str(cache)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    if out.returncode != 0:
        raise RuntimeError(f"{step} {store} {size}: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    head = ("| store | chunks | vectors | ingest chunks/s | on disk MB | RSS MB | hybrid p50 / p95 ms | hybrid hit@10 "
            "| dense p50 ms | BM25 p50 ms | open + BM25 build s | load |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r['store']} | {r['size']:,} | {r['index_kind']} | {r['chunks_per_s']:,} | {r['disk_mb']:,} | "
             f"{r['rss_mb']:,} | {r['hybrid_p50_ms']} / {r['hybrid_p95_ms']} | {r['hybrid_hit@10']} | {r['dense_p50_ms']} | "
             f"{r['bm25_p50_ms']} | {r['open_s']} + {r['bm25_build_s']} | {r['load_1min']} |" for r in rows]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="chunk counts, comma-separated")
    parser.add_argument("--stores", default="faiss,milvus", help="faiss, milvus or both")
    parser.add_argument("--pool", type=int, default=None, help="PIAF paragraphs to take sentences from (default: all)")
    parser.add_argument("--real", type=int, default=2000, help="chunks embedded for real (the rest: synthetic)")
    parser.add_argument("--queries", type=int, default=200, help="PIAF questions timed per mode")
    parser.add_argument("--work", default=None, help="where the indexes are built (default: a temporary folder)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "rag" / "scale"), help="embedded pool cache")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--step", choices=["build", "query"], help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.step:  # a child: one figure set as a JSON line
        step = build if args.step == "build" else query
        print(json.dumps(step(args.store, sizes[0], Path(args.work), Path(args.cache))))
        return 0
    if not PIAF.is_dir():
        print(f"eval.scale: error: {PIAF} not found (the PIAF dev set)", file=sys.stderr)
        return 2
    cache = prepare(args)
    meta = json.loads((cache / "meta.json").read_text())
    print(f"pool: {len(meta['sentences'])} sentences, {len(meta['questions'])} questions; embedding on this machine: "
          f"{meta['chunks_per_s']} chunks/s, {meta['sentences_per_s']} sentences/s; cosine of a real chunk vector "
          f"with its sentences' mean {meta['cosine_real_vs_mean']}", flush=True)
    import tempfile

    root = Path(args.work or tempfile.mkdtemp(prefix="rag-scale-"))
    rows = []
    try:
        for size in sizes:
            for store in [s for s in args.stores.split(",") if s]:
                if store == "milvus" and size > MILVUS_MAX:
                    continue
                work = root / f"{store}-{size}"
                shutil.rmtree(work, ignore_errors=True)
                row = {"store": store if store == "faiss" else "milvus-lite", "size": size,
                       **run_one("build", store, size, work, cache)}
                row["disk_mb"] = disk_mb(work)
                row.update(run_one("query", store, size, work, cache))
                rows.append(row)
                print(json.dumps(row), flush=True)
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(root, ignore_errors=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"pool": {k: v for k, v in meta.items() if k not in ("sentences", "questions")},
                                               "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
