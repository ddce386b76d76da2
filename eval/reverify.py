"""`python -m eval.reverify REPORT_DIR|CALIBRATION.jsonl ... --docs DIR`: the answer checks of the working tree
(`rag.checks.cite.verify` and the confidence gate) run again on the raw answers and passages that a generation report or an
`eval.calibrate` file stored, without the model. A change to the checks is measured in seconds on hundreds of
answers: it prints the rows whose answer changes and F1, answer accuracy and citation hit before and after.

Only French answers to questions that are not yes/no are re-checked: English ones went through the pivot's
translations, and yes/no ones through a second model call, neither of which a report stores. On an unchanged tree
every re-checked answer comes out as stored (rows that do not are counted as `changed`)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Recheck:
    question: str
    before: str | None  # None: abstained
    after: str | None
    golds: list[str]
    answerable: bool = True
    cited_before: bool = False  # a citation overlaps the gold evidence (eval.metrics' citation hit)
    cited_after: bool = False


def recheck(row: dict, texts: dict[str, str], min_confidence: float) -> Recheck | None:
    """The row's raw answer verified again over the passages it was given; None when the row cannot be re-checked."""
    from eval.metrics import is_relevant
    from rag.checks.cite import unsure, verify
    from rag.checks.polarity import is_yes_no_question
    from rag.schema import Passage

    raw = row.get("raw_answer")
    if row.get("lang") != "fr" or not raw or is_yes_no_question(row["question"]) or not row.get("context"):
        return None
    if any(doc not in texts for doc, *_ in row["context"]):
        return None
    passages = [Passage(n=n, doc_id=doc, chunk_id="", start=start, end=end, text=texts[doc][start:end], score=score)
                for n, (doc, start, end, score) in enumerate(row["context"], start=1)]
    verdict = verify(raw, row["question"], passages, {p.doc_id: texts[p.doc_id] for p in passages})
    after = None if verdict.abstained or unsure(row.get("confidence"), min_confidence) else verdict.answer
    before = None if row.get("abstained") else row.get("answer")

    def hit(citations) -> bool:
        gold_docs, gold_spans = row.get("gold_docs") or [], row.get("gold_spans") or []
        return bool(gold_docs or gold_spans) and any(
            is_relevant(c["doc_id"], c["start"], c["end"], gold_docs, gold_spans) for c in citations)

    return Recheck(row["question"], before, after, list(row.get("answers") or []), row.get("answerable", True) is not False,
                   cited_before=before is not None and hit(row.get("citations") or []),
                   cited_after=after is not None and hit([c.model_dump() for c in verdict.citations]))


def load_rows(path: Path) -> list[dict]:
    """A report folder's rows, or an `eval.calibrate` file's (its unanswerable copies keep their question's gold
    answers, which are not theirs: dropped here)."""
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [{**r, "raw_answer": r.get("raw"), "lang": r.get("lang", "fr"),
                 "answers": r.get("answers") if r.get("answerable") else []} for r in rows]
    return json.loads((path / "report.json").read_text(encoding="utf-8"))["rows"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.reverify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", type=Path, nargs="+",
                        help="report folders written by `rag eval --out`, or files written by `eval.calibrate --out`")
    parser.add_argument("--docs", type=Path, required=True, help="the documents folder the reports were run on")
    parser.add_argument("--min-confidence", type=float, default=None,
                        help="confidence gate (default: $RAG_MIN_ANSWER_CONFIDENCE)")
    args = parser.parse_args(argv)

    from eval.dataset import DatasetError, load_docs
    from eval.metrics import answer_accurate, token_f1
    from rag.config import Settings

    try:
        texts = load_docs(args.docs)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gate = Settings().min_answer_confidence if args.min_confidence is None else args.min_confidence
    checked = []
    for path in args.reports:
        try:
            rows = load_rows(path)
        except (OSError, ValueError, KeyError) as exc:
            print(f"error: {path}: not a readable report ({exc.__class__.__name__})", file=sys.stderr)
            return 2
        checked += [r for r in (recheck(row, texts, gate) for row in rows) if r is not None]

    def f1(answer: str | None, golds: list[str]) -> float:
        return token_f1(answer, golds, "fr") if answer and golds else 0.0

    def right(answer: str | None, golds: list[str]) -> bool:
        return bool(answer and golds and answer_accurate(answer, golds))

    for r in checked:
        if r.before != r.after:
            before_f1, after_f1 = f1(r.before, r.golds), f1(r.after, r.golds)
            sign = "+" if after_f1 > before_f1 else "-" if after_f1 < before_f1 else "="
            print(f"{sign} {r.question[:80]} | {r.before} -> {r.after} | gold {r.golds[:1]}")
    answerable = [r for r in checked if r.answerable]
    unanswerable = [r for r in checked if not r.answerable]
    n = max(len(answerable), 1)
    summary = (f"re-checked {len(checked)}, changed {sum(r.before != r.after for r in checked)}; "
               f"F1 {sum(f1(r.before, r.golds) for r in answerable) / n:.3f} -> "
               f"{sum(f1(r.after, r.golds) for r in answerable) / n:.3f}; "
               f"accuracy {sum(right(r.before, r.golds) for r in answerable) / n:.3f} -> "
               f"{sum(right(r.after, r.golds) for r in answerable) / n:.3f}; "
               f"citation hit {sum(r.cited_before for r in answerable) / n:.3f} -> "
               f"{sum(r.cited_after for r in answerable) / n:.3f}")
    if unanswerable:
        m = len(unanswerable)
        summary += (f"; abstention on unanswerable {sum(r.before is None for r in unanswerable) / m:.3f} -> "
                    f"{sum(r.after is None for r in unanswerable) / m:.3f}")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
