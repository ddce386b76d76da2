"""eval/sidebyside.py: rag and the llama.cpp floor on two seed questions, for real; the figures; the one-line errors.
LlamaIndex itself is never installed here (eval/README.md holds a real run)."""
import json
import subprocess
import sys

import pytest

from eval.sidebyside import (
    BenchError, QuestionTiming, SystemRun, compare, format_table, load_questions, main, run_child,
)
from tests.conftest import ROOT

RUN_LIMIT_S = 900  # two questions, each system in its own process, on a shared 2-core machine


def test_rag_and_its_floor_side_by_side_on_two_questions(tmp_path):
    out = tmp_path / "sidebyside.json"
    done = subprocess.run([sys.executable, "-m", "eval.sidebyside", "--limit", "2", "--repeats", "1", "--no-llamaindex",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| p50 per question (s) |" in done.stdout and "LlamaIndex" not in done.stdout
    result = json.loads(out.read_text())
    rag, floor = result["runs"]["rag"], result["runs"]["floor"]
    assert [q["lang"] for q in rag["questions"]] == ["fr", "en"]  # evenly spaced: both languages
    assert all(q["total_ms"] > 0 and q["first_token_ms"] > 0 for q in rag["questions"])
    assert rag["ingest_chunks"] >= 5 and rag["ingest_s"] > 0  # seeds/ from scratch: one article, 5+ chunks
    assert floor["questions"] and all(0 < q["first_token_ms"] <= q["total_ms"] for q in floor["questions"])
    # each system's own process holds the 1 GB GGUF (memory-mapped, read while it answers)
    assert rag["peak_rss_mb"] > 300 and floor["peak_rss_mb"] > 300
    figures = result["figures"]
    assert figures["floor"]["rag_over_this_per_question_p50_all"] > 0.5  # rag does the floor's work at least
    assert figures["floor"]["ingest_chunks_per_s"] is None and figures["rag"]["ingest_chunks_per_s"] > 0


def _run(system, rows, rss=1000.0, ingest=(None, None)):
    return SystemRun(system, [QuestionTiming(id_, lang, ms, ms / 2) for id_, lang, ms in rows], rss, *ingest)


def test_figures_and_ratios_over_the_questions_both_systems_timed():
    rag = _run("rag", [("fr-1", "fr", 1000), ("fr-2", "fr", 2000), ("en-1", "en", 3000)], ingest=(6, 0.5))
    llamaindex = _run("llamaindex", [("fr-1", "fr", 4000), ("fr-2", "fr", 8000), ("en-1", "en", 12000)], 2500, (2, 2.0))
    floor = _run("floor", [("fr-1", "fr", 500), ("fr-2", "fr", 1000)])  # rag answered en-1 without the model
    figures = compare({"rag": rag, "floor": floor, "llamaindex": llamaindex})
    assert figures["rag"]["p50_s"] == 2.0 and figures["rag"]["p95_s"] == 3.0 and figures["rag"]["p50_en_s"] == 3.0
    assert figures["rag"]["first_token_p50_s"] == 1.0 and figures["rag"]["ingest_chunks_per_s"] == 12.0
    assert "rag_over_this_p50" not in figures["rag"]
    assert figures["llamaindex"]["rag_over_this_p50"] == 0.25 and figures["llamaindex"]["rag_over_this_p95"] == 0.25
    assert figures["llamaindex"]["rag_over_this_per_question_p50_fr"] == 0.25
    assert figures["floor"]["questions"] == 2 and figures["floor"]["rag_over_this_p50"] == 2.0  # fr-1, fr-2 only
    assert figures["floor"]["rag_over_this_per_question_p50_all"] == 2.0
    table = format_table(figures).splitlines()
    assert table[0] == "| figure | rag (this project) | llama.cpp floor | LlamaIndex |"
    assert "| ingest, chunks/s | 12.0 | n/a | 1.0 |" in table
    assert "| rag ÷ this, p50 | n/a | 2.0 | 0.25 |" in table


def test_a_short_run_takes_questions_from_both_languages():
    questions = load_questions([ROOT / "eval" / "gold" / "seed_gold.jsonl"], 4)
    assert len(questions) == 4 and {q["lang"] for q in questions} == {"fr", "en"}


def test_a_venv_that_cannot_be_created_is_one_line_and_exit_1(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["--limit", "1", "--llamaindex-venv", str(blocker / "venv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"sidebyside: cannot create the LlamaIndex venv at {blocker / 'venv'}: ")
    assert not any("Traceback" in line for line in err)


def test_a_system_shows_its_progress_and_a_failure_in_one_line(capsys):
    script = ("import sys; print('progress: LlamaIndex 1/2', file=sys.stderr); print('a warning', file=sys.stderr); "
              "sys.exit('no module named llama_index')")
    with pytest.raises(BenchError, match=r"^LlamaIndex failed \(exit 1\): no module named llama_index$"):
        run_child([sys.executable, "-c", script], {}, "LlamaIndex")
    err = capsys.readouterr().err
    assert "\rLlamaIndex 1/2" in err and "a warning" not in err


def test_a_system_that_cannot_start_is_one_line(tmp_path):
    with pytest.raises(BenchError, match=r"^cannot start LlamaIndex: No such file or directory"):
        run_child([str(tmp_path / "venv" / "bin" / "python"), "-m", "eval.llamaindex_side"], {}, "LlamaIndex")
