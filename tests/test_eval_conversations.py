"""The conversation gold splits (shape, coverage, verbatim evidence) and `rag eval`'s conversation scoring."""
import json
from collections import Counter
from pathlib import Path

import pytest

from eval import cli
from eval.conversations import (FOLLOW_UPS, conversation_metrics, is_conversation_file, items_of, load_conversations,
                                names_referent, topic_spans)
from eval.dataset import DatasetError, load_docs, resolve

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold"
DEV, TEST = GOLD / "conversations_dev.jsonl", GOLD / "conversations_test.jsonl"
ARTICLE = ROOT / "seeds" / "000_c35498bb09d10278.txt"


def _load(path):
    conversations = load_conversations(path)
    resolve(items_of(conversations), load_docs(ROOT / "seeds"))
    return conversations


@pytest.fixture(scope="module", params=[DEV, TEST], ids=["dev", "test"])
def split(request):
    return _load(request.param)


def test_each_split_covers_what_the_issue_asks(split):
    turns = [t for c in split for t in c.turns]
    kinds = Counter(t.kind for t in turns)
    assert len(split) >= 30 and all(2 <= len(c.turns) <= 4 for c in split)
    assert {t.item.lang for t in turns} == {"fr", "en"}
    assert Counter(c.turns[0].item.lang for c in split)["en"] >= 10
    assert kinds["answer_ref"] >= 10 and kinds["question_ref"] >= 5 and kinds["ellipsis"] >= 5
    assert kinds["topic_change"] >= 5
    assert sum(t.follow_up and not t.item.answerable for t in turns) >= 5  # follow-ups the article cannot answer
    assert any(len(c.turns) == 4 for c in split)


def test_turns_are_well_formed_and_their_evidence_is_verbatim(split):
    text = ARTICLE.read_text(encoding="utf-8")
    for conv in split:
        assert conv.turns[0].kind == "first" and not conv.turns[0].follow_up
        for turn in conv.turns:
            item = turn.item
            assert turn.follow_up == (turn.kind in FOLLOW_UPS), item.id
            assert bool(turn.referent) == turn.follow_up, item.id
            assert item.answerable == bool(item.answers) == bool(item.evidence), item.id
            assert all(e in text for e in item.evidence), item.id
            assert all(text[s:e] in item.evidence for _, s, e in item.gold_spans)


def test_a_follow_up_does_not_already_name_its_referent_and_a_first_turn_copies_no_sentence(split):
    words = ARTICLE.read_text(encoding="utf-8").lower().split()
    grams = {" ".join(words[i:i + 8]) for i in range(len(words) - 7)}
    for conv in split:
        for turn in conv.turns:
            q = turn.item.question.lower().split()
            assert not any(" ".join(q[i:i + 8]) in grams for i in range(len(q) - 7)), turn.item.id
            if turn.kind in ("answer_ref", "question_ref"):  # else the rewrite would be scored on words it was given
                assert not names_referent(turn.item.question, turn.referent) or len(turn.referent) > 1, turn.item.id


def test_the_splits_do_not_share_a_conversation():
    dev = {tuple(t.item.question for t in c.turns) for c in _load(DEV)}
    assert not any(tuple(t.item.question for t in c.turns) in dev for c in _load(TEST))
    assert is_conversation_file(DEV) and not is_conversation_file(GOLD / "seed_gold.jsonl")


def _write(tmp_path, rows):
    path = tmp_path / "conv.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _turn(question, kind="first", **extra):
    return {"question": question, "kind": kind, "follow_up": kind in FOLLOW_UPS, **extra}


def test_loader_rejects_bad_conversations_with_their_line(tmp_path):
    good = [_turn("Quel gazoduc ?", answers=["Extrême-Orient"]), _turn("Et quand ?", "ellipsis", referent=["gazoduc"])]
    assert len(load_conversations(_write(tmp_path, [{"id": "a", "turns": good}]))[0].turns) == 2
    cases = [
        ({"id": "a", "turns": good[:1]}, "2 to 4 turns"),
        ({"id": "a", "turns": [good[1], good[0]]}, "kind 'first'"),
        ({"id": "a", "turns": [good[0], _turn("Et quand ?", "ellipsis")]}, "needs the 'referent'"),
        ({"id": "a", "turns": [good[0], {**good[1], "follow_up": False}]}, "'follow_up' must be true"),
        ({"id": "a", "turns": [good[0], {**good[1], "kind": "other"}]}, "'kind' must be one of"),
        ({"turns": good}, "needs an 'id'"),
    ]
    for row, message in cases:
        with pytest.raises(DatasetError, match=message):
            load_conversations(_write(tmp_path, [row]))
    with pytest.raises(DatasetError, match="duplicate id"):
        load_conversations(_write(tmp_path, [{"id": "a", "turns": good}] * 2))


def test_cli_refuses_sampling_a_conversation_set(capsys):
    assert cli.main(["--gold", str(DEV), "--sample", "5", "--quiet"]) == 2
    assert "conversation" in capsys.readouterr().err


def _row(conv, turn, kind, answer="", abstained=False, answerable=True, rewritten=None, named=False, off=False):
    return {"id": f"{conv}-t{turn}", "conversation": conv, "turn": turn, "kind": kind, "follow_up": kind in FOLLOW_UPS,
            "lang": "fr", "answerable": answerable, "answers": ["2027"] if answerable else [], "answer": answer,
            "abstained": abstained, "citations": [], "gold_docs": [], "gold_spans": [], "rewritten": rewritten is not None,
            "rewritten_question": rewritten, "referent_named": named, "off_topic": off, "rewrite_model_calls": int(bool(rewritten)),
            "rewrite_ms": 300.0 if rewritten else 0.0, "timings_ms": {"turn": 1000.0}}


def test_conversation_metrics_separate_first_turns_follow_ups_and_topic_changes():
    rows = [
        _row("a", 1, "first", "2027 [1]"),
        _row("a", 2, "answer_ref", "2026 [1]", rewritten="Quand le gazoduc… ?", named=True, off=True),
        _row("a", 3, "ellipsis", abstained=True, answerable=False, rewritten="À propos du gazoduc : son coût ?"),
        _row("b", 1, "first", "2027"),
        _row("b", 2, "topic_change", "2027 [2]", rewritten="Regarding x: y?"),
        _row("b", 3, "question_ref", "2027"),
    ]
    m = conversation_metrics(rows)
    assert m["n"] == 6 and m["conversations"] == 2
    assert m["first_accuracy"] == 1.0 and m["follow_up_n"] == 3 and m["follow_up_accuracy"] == 0.5
    assert m["follow_up_accuracy_gap"] == 0.5 and m["follow_up_abstain_recall"] == 1.0
    assert m["rewrite_recall"] == pytest.approx(2 / 3) and m["referent_named"] == pytest.approx(1 / 3)
    assert m["topic_change_unrewritten"] == 0.0 and m["follow_up_off_topic"] == 1
    assert m["rewrite_ms@p50"] == 300.0 and m["standalone_model_calls"] == 1


def test_topic_spans_restart_at_a_change_of_topic():
    conv = _load(DEV)[21]  # four turns, the last a change of topic
    assert [t.kind for t in conv.turns][-1] == "topic_change"
    assert topic_spans(conv, 3) == [list(s) for s in conv.turns[3].item.gold_spans]
    assert len(topic_spans(conv, 2)) >= len(conv.turns[0].item.gold_spans) + len(conv.turns[2].item.gold_spans)
