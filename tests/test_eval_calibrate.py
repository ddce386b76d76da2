"""The threshold sweep of eval/calibrate.py: gate abstentions are re-decided, other abstentions always count."""
from eval.calibrate import sweep


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
