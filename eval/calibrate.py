"""`python -m eval.calibrate`: data for the abstention thresholds (RAG_MIN_ANSWER_CONFIDENCE; with English questions,
`--qa eval/gold/piaf_en_dev.jsonl`, RAG_CROSS_LINGUAL_MIN_SIMILARITY), from a QA set that has no unanswerable
questions. Each sampled question is asked twice: normally, and with every chunk of its gold article removed from
retrieval, which makes it (almost always) unanswerable. Prints over-abstention, abstention and accuracy per
confidence threshold, and writes every answer as JSON lines."""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def _without_article(run, article_id: str):
    def filtered(query, k, mode="hybrid"):
        return [hit for hit in run(query, k + 12, mode) if not hit.chunk.doc_id.startswith(article_id)][:k]
    return filtered


def sweep(rows: list[dict], thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold: over-abstention and accuracy on answerable rows, abstention on unanswerable ones. Abstentions
    for other reasons count at every threshold; the confidence gate's own are re-decided."""
    from rag.checks.cite import UNSURE, unsure

    def abstains(row, t):
        gated = (row["reason"] or "").startswith(UNSURE)
        return (row["abstained"] and not gated) or unsure(row["confidence"], t)

    pos = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    return [{"threshold": t,
             "over_abstention": sum(abstains(r, t) for r in pos) / max(len(pos), 1),
             "abstain_recall": sum(abstains(r, t) for r in neg) / max(len(neg), 1),
             "accuracy": sum(not abstains(r, t) and r["accurate"] for r in pos) / max(len(pos), 1)} for t in thresholds]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__)
    parser.add_argument("--gold", type=Path, default=Path("../shared/eval/piaf-dev"),
                        help="folder with qa.jsonl ({question, answers, article_id}) and docs_par/")
    parser.add_argument("--qa", type=Path, default=None,
                        help="questions to ask (default: GOLD/qa.jsonl), e.g. eval/gold/piaf_en_dev.jsonl; each needs "
                             "answers and article_id")
    parser.add_argument("--docs", type=Path, default=None,
                        help="documents folder whose file names start with the article id (default: GOLD/docs_par; "
                             "GOLD/docs_art holds whole articles)")
    parser.add_argument("--n", type=int, default=40, help="questions to sample (each is asked twice)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("calibration.jsonl"))
    args = parser.parse_args(argv)
    qa = args.qa or args.gold / "qa.jsonl"
    docs = args.docs or args.gold / "docs_par"
    if not qa.is_file() or not docs.is_dir():
        print(f"error: {qa} not found" if not qa.is_file() else f"error: {docs} is not a folder", file=sys.stderr)
        return 2

    from eval.metrics import answer_accurate
    from eval.runner import open_pipeline, passage_spans
    from rag.config import Settings

    pipeline, _ = open_pipeline(Settings(), docs)
    pipeline.warm_up()
    items = [json.loads(line) for line in qa.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(args.seed).shuffle(items)
    retrieve = pipeline.retriever.run
    rows = []
    for item in items[: args.n]:
        for answerable in (True, False):
            pipeline.retriever.run = retrieve if answerable else _without_article(retrieve, item["article_id"])
            answer = pipeline.ask(item["question"])
            rows.append({"id": item["id"], "answerable": answerable, "question": item["question"],
                         "lang": item.get("lang", "fr"),
                         "raw": answer.raw_answer, "answer": answer.answer, "abstained": answer.abstained,
                         "reason": answer.abstain_reason, "confidence": answer.confidence,
                         "accurate": answer_accurate(answer.answer, item["answers"]), "answers": item["answers"],
                         # the passages the model read, so that answer checks can be re-run on these rows offline
                         "context": passage_spans(answer.passages)})
    pipeline.retriever.run = retrieve
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for line in sweep(rows):
        print(" ".join(f"{k} {v:.2f}" for k, v in line.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
