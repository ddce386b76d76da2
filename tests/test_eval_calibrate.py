"""The threshold sweep of eval/calibrate.py: gate abstentions are re-decided, other abstentions always count."""
from eval.calibrate import main, sweep


def _row(answerable, confidence, accurate=True, abstained=False, reason=None):
    return {"answerable": answerable, "confidence": confidence, "accurate": accurate, "abstained": abstained,
            "reason": reason}


def test_sweep_counts_gate_and_other_abstentions():
    rows = [
        _row(True, 0.99), _row(True, 0.75, abstained=True, reason="the model was unsure of its answer (0.75)"),
        _row(True, None, accurate=False, abstained=True, reason="the answer only repeats the question"),
        _row(False, 0.6, accurate=False), _row(False, 0.95, accurate=False),
    ]
    low, high = sweep(rows, thresholds=(0.5, 0.8))
    assert low == {"threshold": 0.5, "over_abstention": 1 / 3, "abstain_recall": 0.0, "accuracy": 2 / 3}
    assert high == {"threshold": 0.8, "over_abstention": 2 / 3, "abstain_recall": 0.5, "accuracy": 1 / 3}


def test_missing_inputs_exit_2_with_one_line(tmp_path, capsys):
    assert main(["--gold", str(tmp_path), "--n", "1"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'qa.jsonl'} not found"
    (tmp_path / "qa.jsonl").write_text("{}\n", encoding="utf-8")
    assert main(["--gold", str(tmp_path), "--docs", str(tmp_path / "articles"), "--n", "1"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'articles'} is not a folder"
    missing = tmp_path / "piaf_en_dev.jsonl"
    assert main(["--qa", str(missing), "--docs", str(tmp_path), "--n", "1"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {missing} not found"
