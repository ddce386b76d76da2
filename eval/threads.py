"""`python -m eval.threads`: llama.cpp's thread counts and batch size measured, not guessed.

For each combination of `--threads` (decoding), `--batch-threads` (reading the prompt) and `--batches` (n_batch), a
plain llama.cpp model (the configured GGUF, nothing of the pipeline) reads a question-sized prompt (three sentences of
the seed article and a question, about 200 tokens, nothing cached) and then writes 8 tokens one at a time. Each
combination loads its own model and is measured `--repeats` times; the table gives medians and each row's time
relative to the fastest. The service reads prompts with RAG_N_THREADS threads (default: one per core, at most 8)
and evaluates them in blocks of 64 tokens (rag/models/kvcache.py)."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

QUESTION = "Question : Combien de temps a duré la visioconférence entre les deux dirigeants ?"
ANSWER = " plus d'une heure et demie [2]"


def _counts(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{name} takes numbers separated by commas, not {text!r}") from None
    if not values or min(values) < 1 or max(values) > 512:
        raise ValueError(f"{name} takes numbers from 1 to 512, not {text!r}")
    return values


def prompt_text(seed_text: str) -> str:
    """Three sentences of the seed article, numbered as the service numbers passages, and a question."""
    from index.sentences import sentence_spans

    spans = sentence_spans(seed_text)[2:5]
    passages = "\n".join(f"[{n}] {seed_text[s:e]}" for n, (s, e) in enumerate(spans, start=1))
    return f"Passages :\n{passages}\n\n{QUESTION}"


def measure(gguf: Path, threads: int, batch_threads: int, batch: int, prompt: str, repeats: int) -> dict:
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=1024, n_threads=threads, n_threads_batch=batch_threads, n_batch=batch,
                seed=0, verbose=False)
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False)
    answer = llm.tokenize(ANSWER.encode("utf-8"), add_bos=False)[:8]
    reads, writes = [], []
    for _ in range(repeats):
        llm.reset()
        start = time.perf_counter()
        llm.eval(tokens)
        read = time.perf_counter()
        for token in answer:
            llm.eval([token])
        done = time.perf_counter()
        reads.append((read - start) * 1000)
        writes.append((done - read) * 1000)
    prefill_ms, decode_ms = statistics.median(reads), statistics.median(writes)
    return {"threads": threads, "batch_threads": batch_threads, "n_batch": batch, "prompt_tokens": len(tokens),
            "prefill_ms": round(prefill_ms, 1), "decode_ms": round(decode_ms, 1),
            "prefill_tok_s": round(len(tokens) / prefill_ms * 1000, 1),
            "decode_tok_s": round(len(answer) / decode_ms * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.threads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="decoding threads to try, comma-separated (default 1,2)")
    parser.add_argument("--batch-threads", default="1,2", help="prompt-reading threads to try (default 1,2)")
    parser.add_argument("--batches", default="64,512", help="n_batch values to try (default 64,512)")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per combination (default 5)")
    parser.add_argument("--generator", default=None, help="bundled generator name or GGUF path (default: $RAG_GENERATOR)")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    try:
        threads = _counts(args.threads, "--threads")
        batch_threads = _counts(args.batch_threads, "--batch-threads")
        batches = _counts(args.batches, "--batches")
        if args.repeats < 1:
            raise ValueError(f"--repeats must be at least 1, not {args.repeats}")
        from rag.config import Settings
        from rag.models.assets import resolve_gguf

        settings = Settings()
        gguf = resolve_gguf(args.generator or settings.generator, settings.cache_dir)
        seed = sorted(Path(__file__).resolve().parent.parent.joinpath("seeds").glob("*.txt"))[0]
        prompt = prompt_text(seed.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - one readable line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = []
    for batch in batches:
        for n_batch_threads in batch_threads:
            for n_threads in threads:
                rows.append(measure(gguf, n_threads, n_batch_threads, batch, prompt, args.repeats))
                print(f"  measured threads {n_threads}, batch threads {n_batch_threads}, n_batch {batch}",
                      file=sys.stderr)
    best = min(r["prefill_ms"] + r["decode_ms"] for r in rows)
    cols = ["threads", "batch_threads", "n_batch", "prompt_tokens", "prefill_ms", "prefill_tok_s", "decode_ms",
            "decode_tok_s"]
    print(f"{gguf.name}, {args.repeats} repeats, medians")
    print("| " + " | ".join(cols) + " | ÷ fastest |")
    print("|" + "---|" * (len(cols) + 1))
    for r in rows:
        r["ratio"] = round((r["prefill_ms"] + r["decode_ms"]) / best, 2)
        print("| " + " | ".join(str(r[c]) for c in cols) + f" | {r['ratio']} |")
    if args.out:
        args.out.write_text(json.dumps({"model": gguf.name, "repeats": args.repeats, "rows": rows}, indent=1),
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
