"""eval.reverify: stored raw answers checked again without the model."""
import json

from eval import reverify

TEXT = "La visioconférence a eu lieu le 21 janvier. Elle a duré plus d'une heure et demie."


def _report(tmp_path, rows):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps({"rows": rows}), encoding="utf-8")
    return folder


def _row(question, raw, answer, abstained=False, confidence=0.99, lang="fr"):
    end = TEXT.index(" Elle")
    return {"question": question, "lang": lang, "raw_answer": raw, "answer": answer, "abstained": abstained,
            "confidence": confidence, "answers": ["21 janvier"], "context": [["doc.txt", 0, end, 1.0]]}


def test_an_unchanged_check_gives_the_stored_answers_back(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "doc.txt").write_text(TEXT, encoding="utf-8")
    rows = [
        _row("Quel jour a eu lieu la visioconférence ?", "Le 21 janvier [1]", "Le 21 janvier [1]"),
        _row("Quel jour a eu lieu la visioconférence ?", "Le 21 janvier [1]", "", abstained=True, confidence=0.5),
        _row("Quel jour a eu lieu la visioconférence ?", "Le 21 janvier [1]", "Le 21 janvier [1]", lang="en"),  # pivot
    ]
    assert reverify.main([str(_report(tmp_path, rows)), "--docs", str(docs), "--min-confidence", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "re-checked 2, changed 0" in out and "accuracy 0.500 -> 0.500" in out


def test_a_changed_verdict_is_listed(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "doc.txt").write_text(TEXT, encoding="utf-8")
    # Stored as an abstention, but today's checks accept the answer: listed as better.
    rows = [_row("Quel jour a eu lieu la visioconférence ?", "Le 21 janvier [1]", "", abstained=True)]
    assert reverify.main([str(_report(tmp_path, rows)), "--docs", str(docs)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("+ Quel jour") and "changed 1" in out and "accuracy 0.000 -> 1.000" in out


def test_citation_hit_is_scored_before_and_after(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "doc.txt").write_text(TEXT, encoding="utf-8")
    end = TEXT.index(" Elle")
    gold = {"gold_docs": ["doc.txt"], "gold_spans": [["doc.txt", 0, end]]}
    stored_elsewhere = [{"doc_id": "doc.txt", "start": end + 1, "end": len(TEXT), "quote": TEXT[end + 1:]}]
    rows = [{**_row("Quel jour a eu lieu la visioconférence ?", "Le 21 janvier [1]", "Le 21 janvier [1]"), **gold,
             "citations": stored_elsewhere}]
    assert reverify.main([str(_report(tmp_path, rows)), "--docs", str(docs)]) == 0
    assert "citation hit 0.000 -> 1.000" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert reverify.main([str(tmp_path), "--docs", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error:")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "doc.txt").write_text(TEXT, encoding="utf-8")
    assert reverify.main([str(tmp_path / "nothing"), "--docs", str(docs)]) == 2
    assert "not a readable report" in capsys.readouterr().err


def test_calibration_rows_report_abstention_on_their_unanswerable_copies(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "doc.txt").write_text(TEXT, encoding="utf-8")
    end = TEXT.index(" Elle")
    rows = [{"question": "Quel jour a eu lieu la visioconférence ?", "answerable": answerable, "raw": "Le 21 janvier [1]",
             "answer": "Le 21 janvier [1]", "abstained": False, "confidence": 0.99, "answers": ["21 janvier"],
             "context": [["doc.txt", 0, end, 1.0]]} for answerable in (True, False)]
    calibration = tmp_path / "calibration.jsonl"
    calibration.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert reverify.main([str(calibration), "--docs", str(docs)]) == 0
    out = capsys.readouterr().out
    assert "re-checked 2, changed 0" in out and "accuracy 1.000 -> 1.000" in out
    assert "abstention on unanswerable 0.000 -> 0.000" in out
