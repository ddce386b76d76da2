"""Where a question's time goes: per-stage medians over the seed questions, and each question's model floor.

    python -m eval.profile [--gold FILE ...] [--limit N] [--repeats R] [--out FILE.json]

Every question runs through `RagPipeline.stream` as the API runs it, with its stages recorded (rag.stopwatch).
The floor of a question is what llama.cpp alone needs for that question's own prompt: read the tokens the service
did not resume from a cached state, then write the answer's tokens, on a plain `Llama` with the same GGUF and threads
(default batch size, no grammar, no cache logic). `ratio` = our time for the question / that floor; English questions
pay their translations on top of the floor of the French prompt the answer was written from.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import typing
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_GOLD = [HERE / "gold" / "seed_gold.jsonl", HERE / "gold" / "seed_test.jsonl"]


@dataclass
class QuestionProfile:
    id: str
    lang: str
    total_ms: float
    first_token_ms: float | None
    floor_ms: float | None
    floor_prefill_ms: float | None
    floor_decode_ms: float | None
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    decode_tok_s: float | None
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.total_ms / self.floor_ms if self.floor_ms else None


def in_passes(items: list, repeats: int, ask_one, report=None) -> list[list]:
    """`ask_one(item)` for every item, `repeats` passes over the whole list: each item's results, in pass order;
    `report(done, total)` after each. Asked back to back, the same question's second run resumed its whole prompt from
    the first run's state (eval.sidebyside: rag's French p50 1.0 s against 2.2 s, LlamaIndex's first token 0.1 s)."""
    runs: list[list] = [[] for _ in items]
    for done in range(len(items) * repeats):
        i = done % len(items)
        runs[i].append(ask_one(items[i]))
        if report:
            report(done + 1, len(items) * repeats)
    return runs


MAX_PREFIX_STATES = 4


class ModelFloor:
    """A plain llama.cpp model timing one prompt: resume its cached prefix, read the rest, write the answer."""

    def __init__(self, gguf: Path, n_threads: int, n_ctx: int):
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False)
        # A saved state carries the logits of every token it read (hundreds of MB): 149 questions' prefixes kept
        # without a bound filled 24 GB. The few most recent are kept; an evicted prefix is read again, untimed.
        self._prefix_states: OrderedDict[tuple[int, ...], object] = OrderedDict()

    def measure(self, prompt: list[int], cached: int, answer: list[int]) -> tuple[float, float]:
        """(ms to read the prompt's uncached tokens, ms to write the answer's tokens one by one)."""
        llm = self.llm
        prefix = tuple(prompt[:cached])
        llm.reset()
        if prefix:
            if prefix not in self._prefix_states:
                llm.eval(list(prefix))
                self._prefix_states[prefix] = llm.save_state()
                while len(self._prefix_states) > MAX_PREFIX_STATES:
                    self._prefix_states.popitem(last=False)
            self._prefix_states.move_to_end(prefix)
            llm.load_state(self._prefix_states[prefix])
        start = time.perf_counter()
        llm.eval(prompt[cached:])
        read = time.perf_counter()
        for token in answer:
            llm.eval([token])
        done = time.perf_counter()
        return (read - start) * 1000, (done - read) * 1000


def profile_question(pipeline, item, floor: ModelFloor | None) -> QuestionProfile:
    from rag.stopwatch import profiled, stage

    first_token = None
    with profiled() as record:
        start = time.perf_counter()
        answer = None
        for event in pipeline.stream(item.question):
            if event.kind == "token" and first_token is None:
                first_token = (time.perf_counter() - start) * 1000
            elif event.kind == "done":
                answer = event.data
        with stage("serialise"):
            answer.model_dump_json()
        total = (time.perf_counter() - start) * 1000
    stats = record.pop("generation", None)
    stages = {k: float(v) for k, v in record.items() if not k.startswith("tokens.")}
    prompt, cached = int(record.get("tokens.prompt", 0)), int(record.get("tokens.cached", 0))
    completion = int(record.get("tokens.completion", 0))
    floor_read = floor_write = None
    if floor is not None and stats is not None and stats.token_ids and prompt:
        ids = stats.token_ids
        floor_read, floor_write = floor.measure(ids[:prompt], cached, ids[prompt:])
    decode = stages.get("generate.decode")
    return QuestionProfile(
        id=str(item.id), lang=item.lang, total_ms=round(total, 1),
        first_token_ms=round(first_token, 1) if first_token is not None else None,
        floor_ms=round(floor_read + floor_write, 1) if floor_read is not None else None,
        floor_prefill_ms=round(floor_read, 1) if floor_read is not None else None,
        floor_decode_ms=round(floor_write, 1) if floor_write is not None else None,
        prompt_tokens=prompt, cached_tokens=cached, completion_tokens=completion,
        decode_tok_s=round((completion - 1) / (decode / 1000), 2) if decode and completion > 1 else None,
        stages={k: round(v, 2) for k, v in stages.items()},
    )


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def _p95(values) -> float | None:
    values = sorted(v for v in values if v is not None)
    return round(values[min(len(values) - 1, int(0.95 * len(values)))], 1) if values else None


def summarise(rows: list[QuestionProfile]) -> dict:
    """Medians per language and overall: totals, ratios to the floor, first token, each stage where it ran."""
    groups = {"all": rows, **{lang: [r for r in rows if r.lang == lang] for lang in sorted({r.lang for r in rows})}}
    summary = {}
    for name, group in groups.items():
        if not group:
            continue
        stages = sorted({s for r in group for s in r.stages})
        floor_decode = [((r.completion_tokens - 1) / (r.floor_decode_ms / 1000)) if r.floor_decode_ms and
                        r.completion_tokens > 1 else None for r in group]
        summary[name] = {
            "n": len(group),
            "total_ms@p50": _median(r.total_ms for r in group),
            "total_ms@p95": _p95([r.total_ms for r in group]),
            "floor_ms@p50": _median(r.floor_ms for r in group),
            "ratio@p50": _median(r.ratio for r in group),
            "first_token_ms@p50": _median(r.first_token_ms for r in group),
            "prompt_tokens@p50": _median(r.prompt_tokens for r in group),
            "uncached_tokens@p50": _median(r.prompt_tokens - r.cached_tokens for r in group),
            "completion_tokens@p50": _median(r.completion_tokens for r in group),
            "decode_tok_s@p50": _median(r.decode_tok_s for r in group),
            "floor_decode_tok_s@p50": _median(floor_decode),
            "stages_ms@p50": {s: {"p50": _median(r.stages.get(s) for r in group),
                                  "ran": sum(s in r.stages for r in group)} for s in stages},
        }
    return summary


def print_summary(summary: dict, out=None) -> None:
    out = out or sys.stdout
    names = list(summary)
    print("| figure | " + " | ".join(f"{n} (n={summary[n]['n']})" for n in names) + " |", file=out)
    print("|---" * (len(names) + 1) + "|", file=out)
    for key in [k for k in summary["all"] if k not in ("n", "stages_ms@p50")]:
        print(f"| {key} | " + " | ".join(str(summary[n].get(key)) for n in names) + " |", file=out)
    print("| **stage (median ms where it ran; runs)** | " + " | ".join("" for _ in names) + " |", file=out)
    for stage_name in summary["all"]["stages_ms@p50"]:
        cells = []
        for n in names:
            s = summary[n]["stages_ms@p50"].get(stage_name)
            cells.append(f"{s['p50']} ({s['ran']})" if s else "-")
        print(f"| {stage_name} | " + " | ".join(cells) + " |", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, nargs="+", default=DEFAULT_GOLD, help="gold files whose questions to ask "
                        "(default: both seed splits; only the questions are read)")
    parser.add_argument("--docs", type=Path, default=HERE.parent / "seeds", help="documents to index (default: seeds/)")
    parser.add_argument("--lang", default=None, help="only questions in this language (fr, en)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions")
    parser.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="ask every question R times, in passes over the set, and keep each question's median "
                             "(default 1)")
    parser.add_argument("--cross-lingual", default=None, metavar="MODES",
                        help="comma-separated RAG_CROSS_LINGUAL modes (e.g. pivot,answer) tried on every question in "
                             "turn, side by side in one process; a summary per mode")
    parser.add_argument("--no-floor", action="store_true", help="skip the model-floor measurement")
    parser.add_argument("--out", type=Path, default=None, help="write per-question rows and the summary as JSON")
    args = parser.parse_args(argv)

    from eval.dataset import load_gold
    from eval.runner import open_pipeline
    from rag.models.assets import resolve_gguf
    from rag.config import Settings
    from rag.models.base import default_threads

    settings = Settings()
    if args.cross_lingual:
        allowed = typing.get_args(Settings.model_fields["cross_lingual"].annotation)
        unknown = [m for m in args.cross_lingual.split(",") if m not in allowed]
        if unknown:
            parser.error(f"unknown --cross-lingual mode {unknown[0]!r}; choose from {', '.join(allowed)}")
    items = [item for path in args.gold for item in load_gold(path) if args.lang in (None, item.lang)][: args.limit]
    pipeline, _ = open_pipeline(settings, args.docs, progress=False)
    pipeline.warm_up()
    floor = None
    if not args.no_floor and settings.backend == "llama-cpp":
        floor = ModelFloor(resolve_gguf(settings.generator, settings.cache_dir),
                           settings.n_threads or default_threads(), settings.n_ctx)
    modes = args.cross_lingual.split(",") if args.cross_lingual else [settings.cross_lingual]
    def ask_one(item) -> dict[str, QuestionProfile]:
        profiles = {}
        for mode in modes:  # in turn on each question, so that every mode meets the same machine load
            pipeline.settings.cross_lingual = mode
            profiles[mode] = profile_question(pipeline, item, floor)
        return profiles

    runs = in_passes(items, args.repeats, ask_one,
                     lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    rows = {mode: [sorted((r[mode] for r in runs_of), key=lambda q: q.total_ms)[len(runs_of) // 2]
                   for runs_of in runs] for mode in modes}
    report = {}
    for mode in modes:
        summary = summarise(rows[mode])
        if len(modes) > 1:
            print(f"\nRAG_CROSS_LINGUAL={mode}")
        print_summary(summary)
        report[mode] = {"summary": summary, "questions": [{**asdict(r), "ratio": r.ratio} for r in rows[mode]]}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report if len(modes) > 1 else report[modes[0]], ensure_ascii=False, indent=1))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
