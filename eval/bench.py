"""Generator backend benchmark: load time, time to first token, prefill and decode speed, RSS, side by side.

    python -m eval.bench [--backends llama-cpp,transformers] [--repeats 5] [--index-dir DIR]

Each backend runs in its own subprocess (so RSS and load time are its own) on the same questions and the same
retrieved passages; the figures printed are medians over the repeats.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

QUESTIONS = [
    "Quand l'approvisionnement via le gazoduc doit-il débuter ?",
    "Who is Putin's foreign policy adviser?",
    "Combien de temps a duré la visioconférence ?",
    "Quel est le prix du gaz livré à la Chine ?",
]


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_one(backend: str, repeats: int, index_dir: str | None) -> dict:
    from rag.config import Settings
    from rag.pipeline import RagPipeline

    overrides = {"backend": backend}
    if index_dir:
        overrides["index_dir"] = index_dir
    pipeline = RagPipeline(Settings(**overrides))
    pipeline.warm_up(generator=False)
    start = time.perf_counter()
    pipeline.warm_up()
    load = time.perf_counter() - start
    rows = []
    for _ in range(repeats):
        for question in QUESTIONS:
            answer = pipeline.ask(question)
            usage = answer.usage
            prefill = usage.prompt_tokens / (usage.first_token_ms / 1000) if usage.first_token_ms else 0.0
            rows.append({"total_ms": answer.timings_ms.total, "ttft_ms": usage.first_token_ms,
                         "decode_tok_s": usage.tokens_per_second, "prompt_tokens": usage.prompt_tokens,
                         "prefill_tok_s_upper": prefill, "answer": answer.answer})
    med = lambda key: round(statistics.median(r[key] for r in rows), 1)  # noqa: E731
    return {"backend": backend, "model": pipeline.generator.model_id, "load_s": round(load, 2), "rss_mb": round(_rss_mb()),
            "total_ms_p50": med("total_ms"), "ttft_ms_p50": med("ttft_ms"), "decode_tok_s_p50": med("decode_tok_s"),
            "prompt_tokens_p50": med("prompt_tokens"), "answers": [r["answer"] for r in rows[: len(QUESTIONS)]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="llama-cpp,transformers")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--index-dir", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.repeats, args.index_dir)))
        return 0
    results = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, "-m", "eval.bench", "--child", backend, "--repeats", str(args.repeats)]
        if args.index_dir:
            cmd += ["--index-dir", args.index_dir]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{backend}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cols = ["backend", "load_s", "rss_mb", "ttft_ms_p50", "decode_tok_s_p50", "total_ms_p50", "prompt_tokens_p50"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    for r in results:
        print(f"\n{r['backend']} ({r['model']}):")
        for q, a in zip(QUESTIONS, r["answers"]):
            print(f"  {q}\n    → {a}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
