"""`rag eval --conversations`: multi-turn gold sets, run through the chat's own engine (rag.conversation.session), scored
per turn and for the rewrites.

A conversation file holds one conversation per line: `{id, lang?, turns: [turn, ...]}` (2 to 4 turns). A turn is a
seed-style gold item (`question, answers, evidence, doc_id, answerable, lang, type`, see eval/dataset.py) plus
- `kind`: `first` (the opening question), `answer_ref` (a pronoun or demonstrative that points to the previous
  answer), `question_ref` (to the previous question), `ellipsis` ("Et en 2027 ?"), `topic_change` (a new,
  self-contained subject: must not be rewritten), `self_contained` (a later question that needs no context);
- `follow_up`: whether the turn refers back and must be rewritten (true exactly for the three *_ref/ellipsis kinds);
- `referent`: for a follow-up, the forms of which a standalone rewrite must contain at least one.

Each conversation starts from an empty history and is fed the system's own answers, as a user of `rag chat` would.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from eval.dataset import DatasetError, GoldItem, item_from_row, json_lines
from eval.metrics import (AbstentionEvaluator, AnswerEvaluator, CitationEvaluator, fold_for_match, is_relevant,
                          percentile)

KINDS = {"first", "answer_ref", "question_ref", "ellipsis", "topic_change", "self_contained"}
FOLLOW_UPS = {"answer_ref", "question_ref", "ellipsis"}
MIN_TURNS, MAX_TURNS = 2, 4


@dataclass
class GoldTurn:
    item: GoldItem
    kind: str
    follow_up: bool
    referent: list[str] = field(default_factory=list)


@dataclass
class GoldConversation:
    id: str
    turns: list[GoldTurn]


def is_conversation_file(path: Path) -> bool:
    """Whether the first JSON line of `path` is a conversation (has `turns`)."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), "")
        return isinstance(json.loads(first), dict) and "turns" in json.loads(first)
    except (OSError, ValueError):
        return False


def _turn(raw, conv_id: str, n: int, lang: str | None, where: str) -> GoldTurn:
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: turn {n} must be a JSON object")
    item = item_from_row({"lang": lang, **raw, "id": f"{conv_id}-t{n}"}, f"{where} turn {n}")
    kind, follow_up, referent = raw.get("kind"), raw.get("follow_up"), raw.get("referent") or []
    if kind not in KINDS:
        raise DatasetError(f"{where} turn {n}: 'kind' must be one of {', '.join(sorted(KINDS))}")
    if (n == 1) != (kind == "first"):
        raise DatasetError(f"{where} turn {n}: the first turn, and only it, has kind 'first'")
    if follow_up is not (kind in FOLLOW_UPS):
        raise DatasetError(f"{where} turn {n}: 'follow_up' must be {str(kind in FOLLOW_UPS).lower()} for kind {kind!r}")
    if not isinstance(referent, list) or not all(isinstance(r, str) and r.strip() for r in referent):
        raise DatasetError(f"{where} turn {n}: 'referent' must be a list of non-empty strings")
    if follow_up and not referent:
        raise DatasetError(f"{where} turn {n}: a follow-up needs the 'referent' its rewrite must name")
    return GoldTurn(item, kind, follow_up, referent)


def load_conversations(path: Path) -> list[GoldConversation]:
    """Parse and validate a conversation JSONL; a problem raises DatasetError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such conversation file")
    out: list[GoldConversation] = []
    seen: set[str] = set()
    for where, row in json_lines(path):
        if row.get("id") is None or not isinstance(row.get("turns"), list):
            raise DatasetError(f"{where}: every line needs an 'id' and a list of 'turns'")
        conv_id = str(row["id"])
        if conv_id in seen:
            raise DatasetError(f"{where}: duplicate id {conv_id!r}")
        seen.add(conv_id)
        if not MIN_TURNS <= len(row["turns"]) <= MAX_TURNS:
            raise DatasetError(f"{where}: a conversation has {MIN_TURNS} to {MAX_TURNS} turns, not {len(row['turns'])}")
        out.append(GoldConversation(conv_id, [_turn(t, conv_id, n, row.get("lang"), where)
                                              for n, t in enumerate(row["turns"], start=1)]))
    if not out:
        raise DatasetError(f"{path}: no conversations")
    return out


def items_of(conversations: list[GoldConversation]) -> list[GoldItem]:
    return [t.item for c in conversations for t in c.turns]


# ---- running --------------------------------------------------------------------------------------------------------
def names_referent(text: str, forms: list[str]) -> bool:
    """A form occurs in `text` as a whole word or phrase, ignoring case, accents and punctuation."""
    folded = f" {fold_for_match(text)} "
    return any((form := fold_for_match(f)) and f" {form} " in folded for f in forms)


def topic_spans(conv: GoldConversation, index: int) -> list[list]:
    """Evidence spans of turn `index` and of the turns before it back to the last change of topic: where an answer
    to a follow-up may come from."""
    start = max((i for i in range(index + 1) if conv.turns[i].kind in ("first", "topic_change")), default=0)
    return [list(s) for t in conv.turns[start:index + 1] for s in t.item.gold_spans]


def turn_row(conv: GoldConversation, index: int, turn, elapsed_ms: float) -> dict:
    """One scored row per turn: the gold fields, the rewrite and the answer."""
    gold, rewrite, answer = conv.turns[index], turn.rewrite, turn.answer
    item = gold.item
    topic = topic_spans(conv, index)
    citations = [c.model_dump() for c in answer.citations]
    return {
        "id": item.id, "conversation": conv.id, "turn": index + 1, "kind": gold.kind, "follow_up": gold.follow_up,
        "question": item.question, "lang": item.lang, "type": item.type, "answerable": item.answerable,
        "answers": item.answers, "gold_docs": item.gold_docs, "gold_spans": [list(s) for s in item.gold_spans],
        "referent": gold.referent, "rewritten": rewrite.rewritten,
        "rewritten_question": rewrite.standalone if rewrite.rewritten else None, "rewrite_source": rewrite.source,
        "rewrite_ms": round(rewrite.seconds * 1000, 1), "rewrite_model_calls": rewrite.model_calls,
        "referent_named": bool(gold.referent) and names_referent(rewrite.standalone, gold.referent),
        "answer": answer.answer, "abstained": bool(answer.abstained), "abstain_reason": answer.abstain_reason,
        "citations": citations,
        "off_topic": bool(citations) and not answer.abstained and not any(
            is_relevant(c["doc_id"], c["start"], c["end"], [], topic) for c in citations) if topic else False,
        "context": [[p.doc_id, p.start, p.end] for p in answer.passages],
        "timings_ms": {**answer.timings_ms.model_dump(), "turn": round(elapsed_ms, 1)},
    }


def run_conversations(pipeline, conversations: list[GoldConversation], top_k: int | None = None,
                      progress: bool = True) -> list[dict]:
    """Every conversation through a fresh rag.conversation.session.Conversation (bounded history, the chat's rewriter)."""
    from eval.runner import _progress
    from rag.conversation.session import Conversation

    pipeline.warm_up()
    answers = AnswerEvaluator()
    rows: list[dict] = []
    with _progress(progress, "turns", sum(len(c.turns) for c in conversations)) as tick:
        for conv in conversations:
            chat = Conversation(pipeline, top_k=top_k)
            for index, gold in enumerate(conv.turns):
                started = time.perf_counter()
                turn = chat.ask(gold.item.question)
                rows.append(row := turn_row(conv, index, turn, (time.perf_counter() - started) * 1000))
                tick(note=f"{row['id']} {'ok' if answers.score_row(row)['correct'] else 'miss'}")
    return rows


# ---- scoring --------------------------------------------------------------------------------------------------------
def _share(rows: list[dict], key: str) -> float | None:
    return sum(bool(r[key]) for r in rows) / len(rows) if rows else None


def _answer_metrics(rows: list[dict], prefix: str) -> dict:
    answers, abstention = AnswerEvaluator()(rows), AbstentionEvaluator()(rows)
    return {f"{prefix}n": len(rows), f"{prefix}accuracy": answers["accuracy"], f"{prefix}correct": answers["correct"],
            f"{prefix}abstain_recall": abstention["abstain_recall"], f"{prefix}over_abstention": abstention["over_abstention"]}


def conversation_metrics(rows: list[dict], texts: dict[str, str] | None = None) -> dict:
    """Per-turn accuracy and abstention (all turns, first turns, follow-ups), rewrite quality and cost."""
    scorer = AnswerEvaluator()
    for row in rows:
        row.update(scorer.score_row(row))
    first = [r for r in rows if r["kind"] == "first"]
    follow = [r for r in rows if r["follow_up"]]
    topic = [r for r in rows if r["kind"] == "topic_change"]
    standalone_later = [r for r in rows if r["kind"] in ("topic_change", "self_contained")]
    rewritten = [r for r in rows if r["rewritten"]]
    out: dict = {"n": len(rows), "conversations": len({r["conversation"] for r in rows})}
    out.update(_answer_metrics(rows, ""))
    out.update(_answer_metrics(first, "first_"))
    out.update(_answer_metrics(follow, "follow_up_"))
    out.update(_answer_metrics(standalone_later, "later_standalone_"))
    citations = CitationEvaluator(texts)(rows)
    out.update(citation_hit=citations["citation_hit"], quote_exact=citations["quote_exact"])
    if out["first_accuracy"] is not None and out["follow_up_accuracy"] is not None:
        out["follow_up_accuracy_gap"] = out["first_accuracy"] - out["follow_up_accuracy"]
    out["rewrite_recall"] = _share(follow, "rewritten")  # follow-ups that were rewritten
    out["referent_named"] = _share(follow, "referent_named")  # ... whose rewrite names what they refer to
    out["topic_change_unrewritten"] = 1 - _share(topic, "rewritten") if topic else None
    out["standalone_unrewritten"] = 1 - _share(standalone_later, "rewritten") if standalone_later else None
    out["follow_up_off_topic"] = sum(r["off_topic"] for r in follow)  # answered from a sentence off the topic
    out["rewrite_ms@p50"] = percentile([r["rewrite_ms"] for r in rewritten], 50)
    out["rewrite_ms@p95"] = percentile([r["rewrite_ms"] for r in rewritten], 95)
    out["rewrite_model_calls@max"] = max((r["rewrite_model_calls"] for r in rows), default=0)
    out["standalone_model_calls"] = sum(r["rewrite_model_calls"] for r in rows if not r["follow_up"])
    out["latency_total_ms@p50"] = percentile([r["timings_ms"]["turn"] for r in rows], 50)
    return out


def conversation_breakdown(rows: list[dict]) -> dict:
    """The answer metrics by kind of turn and by language."""
    parts = {}
    for key in ("kind", "lang"):
        for value in sorted({str(r[key]) for r in rows}):
            parts[f"{key}={value}"] = _answer_metrics([r for r in rows if str(r[key]) == value], "")
    return parts


def rewrite_lines(rows: list[dict], cell) -> list[str]:
    """Markdown: every later turn with its rewrite (or none), to read the rewrites' grammar by eye."""
    lines = ["", "## Rewrites", "", "| id | kind | question | rewritten as | names referent | ms |", "|---|---|---|---|---|---|"]
    for r in rows:
        if r["kind"] != "first":
            lines.append(f"| {r['id']} | {r['kind']} | {cell(r['question'])} | {cell(r['rewritten_question'] or '—')} | "
                         f"{'yes' if r['referent_named'] else 'no' if r['follow_up'] else ''} | {r['rewrite_ms']:.0f} |")
    return lines
