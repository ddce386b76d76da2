"""eval.threads: llama.cpp thread counts and batch sizes measured on the real GGUF (the bundled 0.5B, one repeat)."""
import json

from eval import threads


def test_each_combination_is_measured_on_the_model(tmp_path, capsys):
    out = tmp_path / "threads.json"
    assert threads.main(["--threads", "1,2", "--batch-threads", "2", "--batches", "64", "--repeats", "1",
                         "--generator", "qwen2.5-coder-0.5b", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| threads | batch_threads | n_batch |" in table
    rows = json.loads(out.read_text())["rows"]
    assert [(r["threads"], r["batch_threads"], r["n_batch"]) for r in rows] == [(1, 2, 64), (2, 2, 64)]
    assert all(r["prompt_tokens"] > 150 and r["prefill_ms"] > 0 and r["decode_tok_s"] > 0 for r in rows)
    assert min(r["ratio"] for r in rows) == 1.0


def test_bad_counts_are_one_line_and_exit_2(capsys):
    assert threads.main(["--threads", "two"]) == 2
    assert capsys.readouterr().err.startswith("error: --threads takes numbers")
    assert threads.main(["--batches", "0"]) == 2
    assert "from 1 to 512" in capsys.readouterr().err
