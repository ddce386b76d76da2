"""Run the system over a gold set and score it: one row per question (and per retrieval mode), then metrics.

The pipeline is injected (anything with `.retrieve(q, top_k, mode)`, `.ask(q)` and `.store`), so tests can score
fakes; `open_pipeline` builds the real one over a cached index of the docs folder.
"""
from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eval.dataset import GoldItem, docs_signature
from eval.metrics import (
    AbstentionEvaluator, AnswerEvaluator, CitationEvaluator, LanguageEvaluator, LatencyEvaluator, RetrievalEvaluator,
    SequentialEvaluator, breakdown, is_relevant,
)

KS = (1, 3, 5, 10)


@dataclass
class RunOptions:
    retrieval_only: bool = False
    modes: tuple[str, ...] = ("hybrid",)
    k: int = 10  # chunks retrieved for the retrieval metrics
    top_k: int | None = None  # passages given to the generator (None: the pipeline's setting)
    progress: bool = True


# ---- index and pipeline --------------------------------------------------------------------------------------------
def index_cache_dir(settings, docs_dir: Path) -> Path:
    """A cache folder keyed by the docs folder (path and file stamps) and every setting the index depends on."""
    key = "\0".join([docs_signature(docs_dir), settings.embedder, str(settings.chunk_tokens), str(settings.chunk_overlap_tokens)])
    name = f"{Path(docs_dir).resolve().name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    return Path(settings.cache_dir) / "eval-index" / name


def open_pipeline(settings, docs_dir: Path, index_dir: Path | None = None, progress: bool = True):
    """(pipeline, index_seconds): index docs_dir into index_dir (default: the cache folder) unless it is there."""
    from rag.pipeline import RagPipeline, make_indexer

    index_dir = Path(index_dir) if index_dir else index_cache_dir(settings, docs_dir)
    settings = settings.model_copy(update={"index_dir": index_dir})
    pipeline = RagPipeline(settings)
    started = time.perf_counter()
    make_indexer(settings, pipeline.embedder, index_dir).index_paths([Path(docs_dir)], progress=progress)
    return pipeline, time.perf_counter() - started


# ---- rows ----------------------------------------------------------------------------------------------------------
def _base_row(item: GoldItem) -> dict:
    return {"id": item.id, "question": item.question, "lang": item.lang, "type": item.type,
            "answerable": item.answerable, "gold_docs": item.gold_docs, "gold_spans": [list(s) for s in item.gold_spans]}


def relevance_of(passages, item: GoldItem) -> list[bool]:
    return [is_relevant(p.doc_id, p.start, p.end, item.gold_docs, item.gold_spans) for p in passages]


def count_relevant(store, item: GoldItem) -> int | None:
    """Relevant chunks in the whole index (the ideal ranking for nDCG); None when the store cannot tell."""
    try:
        chunks = [store.chunks[i] for d in item.gold_docs for i in store.docs[d].chunk_ids]
    except (AttributeError, KeyError):
        return None
    return sum(is_relevant(c.doc_id, c.start, c.end, item.gold_docs, item.gold_spans) for c in chunks)


def passage_spans(passages) -> list[list]:
    """[[doc_id, start, end, score], ...]: how rows store the passages retrieved or read (eval.reverify reads them)."""
    return [[p.doc_id, p.start, p.end, round(float(p.score), 4)] for p in passages]


def retrieval_row(pipeline, item: GoldItem, mode: str, k: int) -> dict:
    started = time.perf_counter()
    passages = pipeline.retrieve(item.question, top_k=k, mode=mode)
    elapsed = (time.perf_counter() - started) * 1000
    relevance = relevance_of(passages, item)
    return {**_base_row(item), "mode": mode, "retrieved": passage_spans(passages), "relevance": relevance,
            "n_relevant": count_relevant(pipeline.store, item),
            "first_relevant_rank": next((i for i, r in enumerate(relevance, start=1) if r), None),
            "timings_ms": {"retrieve": round(elapsed, 2)}}


def generation_row(pipeline, item: GoldItem, options: RunOptions) -> dict:
    from rag.pipeline import QuestionError

    row = retrieval_row(pipeline, item, options.modes[0], options.k)
    row["retrieval_timings_ms"] = row.pop("timings_ms")
    row["answers"] = item.answers
    try:
        answer = pipeline.ask(item.question, top_k=options.top_k)
    except QuestionError as exc:  # recorded as a wrong answer, not a crash of the whole run
        row.update(answer="", abstained=False, error=str(exc), citations=[], timings_ms={})
        return row
    usage = getattr(answer, "usage", None)
    row.update(
        answer=answer.answer, abstained=bool(answer.abstained),
        abstain_reason=getattr(answer, "abstain_reason", None), raw_answer=getattr(answer, "raw_answer", None),
        confidence=getattr(answer, "confidence", None),
        citations=[c.model_dump() for c in answer.citations],
        context=passage_spans(answer.passages), context_relevance=relevance_of(answer.passages, item),
        timings_ms=answer.timings_ms.model_dump(),
        tokens_per_second=getattr(usage, "tokens_per_second", None) or None,
        completion_tokens=getattr(usage, "completion_tokens", None),
    )
    return row


@contextmanager
def _progress(enabled: bool, label: str, total: int):
    if not enabled:
        yield lambda **_: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[note]}"))
    with Progress(*columns) as bar:
        task = bar.add_task(label, total=total, note="")
        yield lambda note="": bar.update(task, advance=1, note=note)


# ---- scoring -------------------------------------------------------------------------------------------------------
def retrieval_evaluator(k: int) -> SequentialEvaluator:
    ks = tuple(x for x in KS if x <= k) or (k,)
    return SequentialEvaluator([RetrievalEvaluator(ks, mrr_k=k, ndcg_k=k), LatencyEvaluator(("retrieve",))])


def generation_evaluator(texts: dict[str, str], k: int) -> SequentialEvaluator:
    ks = tuple(x for x in KS if x <= k) or (k,)
    return SequentialEvaluator([
        RetrievalEvaluator(ks, mrr_k=k, ndcg_k=k), AnswerEvaluator(), AbstentionEvaluator(), CitationEvaluator(texts),
        LanguageEvaluator(), LatencyEvaluator(), _context_hit,
    ])


def _context_hit(rows: list[dict]) -> dict:
    """Share of answerable questions whose prompt passages include a relevant one (the generator's best case)."""
    judged = [r for r in rows if r.get("answerable", True) and r.get("context_relevance") is not None]
    return {"context_hit": sum(any(r["context_relevance"]) for r in judged) / len(judged) if judged else None}


def score(rows: list[dict], run: str, modes: tuple[str, ...] | list[str], k: int, texts: dict[str, str] | None = None):
    """(metrics, breakdown) of finished rows; retrieval metric names are prefixed by mode: `bm25/hit@5`."""
    if run == "retrieval":
        evaluator = retrieval_evaluator(k)
        metrics, parts = {}, {}
        for mode in modes:
            mode_rows = [r for r in rows if r.get("mode") == mode]
            metrics.update({f"{mode}/{name}": value for name, value in evaluator(mode_rows).items()})
            parts[mode] = breakdown(mode_rows, evaluator)
        return metrics, parts
    answers = AnswerEvaluator()
    for row in rows:  # per-row scores, refreshed so merged or re-scored reports use the current metric
        row.update(answers.score_row(row))
    evaluator = generation_evaluator(texts or {}, k)
    metrics = evaluator(rows)
    metrics["errors"] = sum(1 for r in rows if r.get("error"))  # questions the pipeline refused
    return metrics, breakdown(rows, evaluator)


def run_retrieval(pipeline, items: list[GoldItem], options: RunOptions) -> tuple[dict, dict, list[dict]]:
    pipeline.warm_up(generator=False)
    rows = []
    for mode in options.modes:
        with _progress(options.progress, f"retrieval {mode}", len(items)) as tick:
            for item in items:
                rows.append(retrieval_row(pipeline, item, mode, options.k))
                tick()
    return (*score(rows, "retrieval", options.modes, options.k), rows)


def run_generation(pipeline, items: list[GoldItem], options: RunOptions, texts: dict[str, str]) -> tuple[dict, dict, list[dict]]:
    pipeline.warm_up()
    answers = AnswerEvaluator()
    rows = []
    with _progress(options.progress, "questions", len(items)) as tick:
        for item in items:
            row = generation_row(pipeline, item, options)
            rows.append(row)
            tick(note=f"{item.id} {'ok' if answers.score_row(row)['correct'] else 'miss'}")
    return (*score(rows, "generation", options.modes, options.k, texts), rows)
