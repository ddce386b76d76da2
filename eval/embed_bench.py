"""Embedder benchmark: load time, passages per second, milliseconds per query and whole-folder ingest, side by side.

    python -m eval.embed_bench [--embedders multilingual-e5-small,all-MiniLM-L6-v2] [--docs DIR] [--repeats 3]

Each embedder runs in its own subprocess, one after the other, on the same documents: the chunks it would index
(chunked with its own tokenizer) for passages/s, the questions of the seed gold set for ms/query, and a fresh index
of the folder (chunks and, where the index keeps them, sentence vectors) for ingest. Figures are medians over the
repeats; compare them as ratios within one run, since a shared machine's speed varies from run to run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIAF_DOCS = ROOT.parent / "shared" / "eval" / "piaf-dev" / "docs_par"


def run_one(name: str, docs: Path, repeats: int) -> dict:
    from eval.dataset import load_gold
    from index.chunk import ChunkerConfig, SentenceChunker
    from index.ingest import load_documents
    from rag.config import Settings
    from rag.pipeline import make_embedder, make_indexer

    settings = Settings(embedder=name)
    started = time.perf_counter()
    embedder = make_embedder(settings)
    embedder.warm_up()
    load_s = time.perf_counter() - started
    documents = load_documents([docs])
    chunker = SentenceChunker(ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens), embedder.count_tokens)
    chunks = [c.text for d in documents for c in chunker.run(d)]
    questions = [item.question for item in load_gold(ROOT / "eval" / "gold" / "seed_gold.jsonl")][:20]
    per_passage, per_query, ingest = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        embedder.embed(chunks)
        per_passage.append(len(chunks) / (time.perf_counter() - t))
        for q in questions:
            t = time.perf_counter()
            embedder._encode([q], True, False)  # uncached: the query cache would hide the model's own time
            per_query.append((time.perf_counter() - t) * 1000)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            report = make_indexer(settings.model_copy(update={"index_dir": Path(tmp)}), embedder).index_paths([docs])
            ingest.append((report.chunks_written, time.perf_counter() - t))
    med = lambda xs: round(statistics.median(xs), 1)  # noqa: E731
    return {"embedder": name, "load_s": round(load_s, 2), "documents": len(documents), "chunks": len(chunks),
            "passages_per_s": med(per_passage), "query_ms": med(per_query),
            "ingest_s": med([s for _, s in ingest]), "ingest_chunks_per_s": med([n / s for n, s in ingest])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.embed_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", default="multilingual-e5-small,all-MiniLM-L6-v2")
    parser.add_argument("--docs", type=Path, default=PIAF_DOCS if PIAF_DOCS.is_dir() else ROOT / "seeds",
                        help="documents folder (default: PIAF dev paragraphs when ../shared has them, else seeds/)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        print(f"no such documents folder: {args.docs}", file=sys.stderr)
        return 2
    if args.child:
        print(json.dumps(run_one(args.child, args.docs, args.repeats)))
        return 0
    results = []
    for name in args.embedders.split(","):
        cmd = [sys.executable, "-m", "eval.embed_bench", "--child", name, "--docs", str(args.docs),
               "--repeats", str(args.repeats)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cols = ["embedder", "load_s", "documents", "chunks", "passages_per_s", "query_ms", "ingest_s", "ingest_chunks_per_s"]
    print(f"documents: {args.docs}; medians of {args.repeats}")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if len(results) > 1:
        first = results[0]
        for r in results[1:]:
            print(f"{first['embedder']} / {r['embedder']}: passages/s x{first['passages_per_s'] / r['passages_per_s']:.2f}, "
                  f"query ms x{first['query_ms'] / r['query_ms']:.2f}, ingest time x{first['ingest_s'] / r['ingest_s']:.2f}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
