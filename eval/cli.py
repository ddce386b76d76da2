"""`rag eval` / `python -m eval`: options and the run itself. Bad input is one line on stderr and exit code 2;
a gated regression (--compare with --fail-metric) exits 1."""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_GOLD = HERE / "gold" / "seed_gold.jsonl"
DEFAULT_DOCS = ROOT / "seeds"
DEFAULT_OUT = HERE / "out"
EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument("--gold", type=Path, default=DEFAULT_GOLD,
                   help="gold JSONL {id, question, answers?, evidence? or doc_id?, answerable?, lang?, type?}, or a folder "
                        "holding qa.jsonl (default: eval/gold/seed_gold.jsonl); a JSONL of conversations {id, turns} "
                        "(eval/gold/conversations_*.jsonl) is run turn by turn through the chat engine")
    g.add_argument("--docs", type=Path, default=None,
                   help="documents folder (default: seeds/, or docs_par/ / docs/ beside a --gold folder)")
    g.add_argument("--index-dir", type=Path, default=None,
                   help="index folder (default: a cache folder keyed by the docs and the index settings, built on demand)")
    g = parser.add_argument_group("what to run")
    g.add_argument("--retrieval-only", action="store_true", help="score retrieval only (no generation): fast, any set size")
    g.add_argument("--modes", default="hybrid",
                   help="retrieval modes, comma-separated: bm25,dense,hybrid (generation runs use the first for hit@k)")
    g.add_argument("--sample", type=int, default=None, metavar="N",
                   help="score a reproducible sample of N questions (stratified by language and answerability)")
    g.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    g.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N questions (after --sample)")
    g.add_argument("--limit", type=int, default=None, metavar="N", help="only N questions (after --sample and --offset)")
    g.add_argument("--k", type=int, default=10, help="retrieval depth for hit@k/MRR/nDCG (default 10)")
    g.add_argument("--top-k", type=int, default=None, help="passages given to the generator (default: $RAG_TOP_K)")
    g.add_argument("--generator", default=None, help="bundled generator name or GGUF path (default: $RAG_GENERATOR)")
    g.add_argument("--backend", choices=["llama-cpp", "transformers", "openai"], default=None, help="generator backend")
    g = parser.add_argument_group("output and gating")
    g.add_argument("--out", type=Path, default=None, help="output folder (default: eval/out/<timestamp>-<run>/)")
    g.add_argument("--compare", type=Path, default=None, metavar="PREVIOUS.json", help="print deltas against a previous report.json")
    g.add_argument("--fail-metric", default=None, metavar="NAME",
                   help="with --compare: exit 1 when this metric worsens by more than --max-drop (e.g. hybrid/hit@5, correct)")
    g.add_argument("--max-drop", type=float, default=0.0, help="allowed worsening of --fail-metric, absolute (default 0)")
    g.add_argument("--merge", type=Path, nargs="+", default=None, metavar="REPORT.json",
                   help="run nothing: merge reports of slices of one run (--offset/--limit) into one, re-scored")
    g.add_argument("--quiet", action="store_true", help="no progress bars")


class UsageError(ValueError):
    pass


def _inputs(args) -> tuple[Path, Path]:
    gold, docs = Path(args.gold), args.docs
    if gold.is_dir():
        folder = gold
        gold = next((folder / n for n in ("qa.jsonl", "gold.jsonl") if (folder / n).is_file()), folder / "qa.jsonl")
        if docs is None:
            docs = next((folder / n for n in ("docs_par", "docs") if (folder / n).is_dir()), folder / "docs")
    return gold, Path(docs) if docs else DEFAULT_DOCS


def _modes(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in ("bm25", "dense", "hybrid")]
    if not modes or bad:
        raise UsageError(f"--modes: unknown mode(s) {', '.join(bad) or '(none)'}; choose from bm25, dense, hybrid")
    return modes


def _check_numbers(args) -> None:
    for name in ("sample", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be at least 1")
    if not 1 <= args.k <= 100:
        raise UsageError("--k must be between 1 and 100")
    if args.fail_metric and not args.compare:
        raise UsageError("--fail-metric needs --compare PREVIOUS.json")
    if args.offset < 0:
        raise UsageError("--offset must be >= 0")
    if args.max_drop < 0:
        raise UsageError("--max-drop must be >= 0")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


_NOT_MODEL = {"index_dir", "cache_dir", "host", "port", "max_upload_bytes", "max_documents", "max_queue", "create_index",
              "max_question_chars"}


def _models(settings, pipeline, retrieval_only: bool, code_sha256: str) -> dict:
    """Every setting that can change a score (secrets, paths and serving limits left out), the generator's identity,
    and a fingerprint of the code under test (prompts and rules change results as much as models do)."""
    models = {k: v for k, v in settings.model_dump(mode="json").items()
              if k not in _NOT_MODEL and not k.startswith("chat_") and not any(s in k for s in ("key", "secret", "token_", "password"))}
    if not retrieval_only:
        from rag.models.assets import BUNDLED_GENERATORS

        spec = BUNDLED_GENERATORS.get(settings.generator)
        models.update(generator_id=getattr(pipeline.generator, "model_id", settings.generator),
                      generator_sha256=spec.sha256 if spec else None)
    models["code_sha256"] = code_sha256
    return models


def _code_fingerprint() -> str:
    """sha256 over the system's own source (rag/, index/), committed or not: equal fingerprints, same code."""
    digest = hashlib.sha256()
    for folder in ("rag", "index"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def run(args: argparse.Namespace) -> int:
    from eval.dataset import DatasetError
    from index.document import IngestError
    from index.store import IndexError_

    try:
        return _run(args)
    except (DatasetError, UsageError, IngestError, IndexError_) as exc:  # bad input: files, folders, a foreign index
        print(f"rag eval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from eval import report as reporting

    _check_numbers(args)
    previous = reporting.load_previous(args.compare) if args.compare else None
    if previous is not None and args.fail_metric:  # fail before the run, not after it
        reporting.resolve_metric(args.fail_metric, previous["metrics"])
    if args.merge:
        from eval.merge import merge_reports

        report = merge_reports(args.merge)
    else:
        report = _evaluate(args)
    status = EXIT_OK
    if previous is not None:
        report["comparison"] = reporting.compare(report, previous, str(args.compare), args.fail_metric, args.max_drop)
        status = EXIT_REGRESSION if report["comparison"]["failed"] else EXIT_OK
    out_dir = args.out or DEFAULT_OUT / f"{datetime.now():%Y%m%d-%H%M%S}-{report['config']['run']}"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [reporting.write_json(report, out_dir), reporting.write_markdown(report, out_dir), reporting.write_png(report, out_dir)]
    _print_summary(report)
    print("wrote " + ", ".join(str(p) for p in paths if p))
    return status


def _evaluate(args: argparse.Namespace) -> dict:
    from eval import dataset
    from eval.conversations import (conversation_breakdown, conversation_metrics, is_conversation_file, items_of,
                                    load_conversations, run_conversations)
    from eval.runner import RunOptions, open_pipeline, run_generation, run_retrieval

    started = time.perf_counter()
    code_sha256 = _code_fingerprint()  # before the system's modules are imported: the code that actually runs
    modes = _modes(args.modes)
    gold_path, docs_dir = _inputs(args)
    conversations = None
    if is_conversation_file(gold_path):  # multi-turn gold: --offset/--limit count conversations
        if args.retrieval_only or args.sample:
            raise UsageError("a conversation gold set runs whole conversations: no --retrieval-only or --sample")
        conversations = load_conversations(gold_path)
        n_gold = len(conversations)
        conversations = conversations[args.offset:][: args.limit]
        items = items_of(conversations)
    else:
        items = dataset.load_gold(gold_path)
        n_gold = len(items)
    texts = dataset.load_docs(docs_dir)
    dataset.resolve(items, texts)
    if args.sample:
        items = dataset.sample(items, args.sample, args.seed)
    if conversations is None:
        items = items[args.offset:][: args.limit]
    if not items:
        raise UsageError(f"--offset {args.offset} leaves no questions (the set has {n_gold})")

    from rag.config import Settings

    overrides = {k: getattr(args, k) for k in ("generator", "backend") if getattr(args, k)}
    settings = Settings(**overrides)
    if args.top_k is not None and not 1 <= args.top_k <= settings.max_top_k:
        raise UsageError(f"--top-k must be between 1 and {settings.max_top_k}")
    progress = not args.quiet
    load_before = os.getloadavg()
    pipeline, index_s = open_pipeline(settings, docs_dir, args.index_dir, progress=progress)
    options = RunOptions(retrieval_only=args.retrieval_only, modes=modes, k=args.k, top_k=args.top_k, progress=progress)
    run_started = time.perf_counter()
    if conversations is not None:
        rows = run_conversations(pipeline, conversations, args.top_k, progress)
        metrics, parts = conversation_metrics(rows, texts), conversation_breakdown(rows)
    elif args.retrieval_only:
        metrics, parts, rows = run_retrieval(pipeline, items, options)
    else:
        metrics, parts, rows = run_generation(pipeline, items, options, texts)
    eval_s = time.perf_counter() - run_started
    return {
        "schema": 1,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": {"run": "conversations" if conversations is not None else "retrieval" if args.retrieval_only else "generation",
                   "gold": str(gold_path),
                   "gold_sha256": dataset.file_sha256(gold_path), "n_gold": n_gold, "n_items": len(items),
                   "docs": str(docs_dir), "n_docs": len(texts), "index_dir": str(pipeline.settings.index_dir),
                   "modes": list(modes), "k": args.k, "top_k": args.top_k, "sample": args.sample, "seed": args.seed,
                   "offset": args.offset, "limit": args.limit, "argv": sys.argv[1:]},
        "models": _models(settings, pipeline, args.retrieval_only, code_sha256),
        "environment": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                        "loadavg_before": [round(x, 2) for x in load_before],
                        "loadavg_after": [round(x, 2) for x in os.getloadavg()], "git": _git_commit(),
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)},
        "timing": {"index_s": round(index_s, 2), "eval_s": round(eval_s, 2), "wall_s": round(time.perf_counter() - started, 2),
                   "questions_per_s": round(len(rows) / eval_s, 2) if eval_s else None},
        "metrics": metrics,
        "breakdown": parts,
        "rows": rows,
    }


def _print_summary(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from eval.report import _metric_order, comparison_lines, fmt

    metrics = report["metrics"]
    table = Table(title=f"rag eval ({report['config']['run']}, {report['config']['n_items']} questions, "
                        f"{report['timing']['eval_s']:.1f} s)")
    if report["config"]["run"] == "retrieval":
        modes = report["config"]["modes"]
        names = sorted({n.split("/", 1)[1] for n in metrics}, key=_metric_order)
        table.add_column("metric")
        for m in modes:
            table.add_column(m, justify="right")
        for n in names:
            table.add_row(n, *[fmt(metrics.get(f"{m}/{n}")) for m in modes])
    else:
        table.add_column("metric")
        table.add_column("value", justify="right")
        for n in sorted(metrics, key=_metric_order):
            table.add_row(n, fmt(metrics[n]))
    console = Console()
    console.print(table)
    for warning in report["config"].get("warnings") or []:
        console.print(f"warning: {warning}", markup=False)
    if report.get("comparison"):
        console.print("\n".join(comparison_lines(report["comparison"])), markup=False)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = argparse.ArgumentParser(prog="python -m eval", description="Score retrieval, answers, citations and abstention against gold Q&A.")
    configure_parser(parser)
    return run(parser.parse_args(argv))
