"""`rag chat`: follow-up detection and rewriting, the commands, a real terminal session (pexpect in a pty) with
Ctrl-C, and piped use. The models and the index are the real ones."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pexpect
import pytest
from rich.console import Console

from rag.cli.chat import Conversation, Turn, answer_json, piped, run_command, status_line
from rag.conversation.phrases import noun_phrases, widen
from rag.conversation.refer import detect_reference
from rag.conversation.rewrite import Rewrite, Rewriter, check_referent
from rag.schema import Answer, Passage, Timings
from tests.conftest import ROOT

DOC = "000_c35498bb09d10278.txt"
GAS = "Comment progressent les travaux du gazoduc d'Extrême-Orient ?"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x08\r]")


# ---- detection and rewriting (rules only) ------------------------------------------------------------------------
@pytest.mark.parametrize("question, kind", [
    ("Et quand doit-il débuter ?", "inverted"),
    ("Combien de temps a-t-elle duré ?", "inverted"),
    ("Qu'a-t-il déclaré sur l'équipe Trump ?", "inverted"),
    ("Est-ce qu'il est terminé ?", "pronoun"),
    ("Et ça coûte combien ?", "pronoun"),
    ("Quand ce gazoduc sera-t-il prêt ?", "demonstrative"),
    ("Et avec quel pays ?", "elliptical"),
    ("Pourquoi ?", "elliptical"),
    ("When should it start?", "pronoun"),
    ("What is its capacity?", "possessive"),
    ("What about China?", "elliptical"),
    # self-contained questions
    ("Quand l'approvisionnement via le gazoduc doit-il débuter ?", None),
    ("Quand Poutine a-t-il parlé avec Xi ?", None),
    ("Quel est le prix du gaz livré à la Chine ?", None),
    ("Qui est le conseiller de Poutine pour la politique étrangère ?", None),
    ("Who is Putin's foreign policy adviser?", None),
    ("Is there a pipeline to China?", None),
    (GAS, None),
])
def test_detects_questions_that_refer_back(question, kind):
    ref = detect_reference(question)
    assert (ref.kind if ref else None) == kind


@pytest.mark.parametrize("previous, question, standalone", [
    (GAS, "Et quand doit-il débuter ?", "Quand le gazoduc d'Extrême-Orient doit-il débuter ?"),
    ("Quand a eu lieu la visioconférence entre Poutine et Xi ?", "Combien de temps a-t-elle duré ?",
     "Combien de temps la visioconférence entre Poutine et Xi a-t-elle duré ?"),
    ("Qui est le conseiller de Poutine pour la politique étrangère ?", "Qu'a-t-il déclaré sur l'équipe Trump ?",
     "Qu'est-ce que le conseiller de Poutine pour la politique étrangère a déclaré sur l'équipe Trump ?"),
    ("Quand l'approvisionnement via le gazoduc d'Extrême-Orient doit-il débuter ?", "Et avec quel pays ?",
     "À propos de l'approvisionnement via le gazoduc d'Extrême-Orient : avec quel pays ?"),
    ("What did Putin and Xi discuss about the Far East gas pipeline?", "When should it start?",
     "When should the Far East gas pipeline start?"),
    ("Who is Putin's foreign policy adviser?", "What did he say about Trump's team?",
     "What did Putin's foreign policy adviser say about Trump's team?"),
    ("What did Putin and Xi discuss about the Far East gas pipeline?", "What is its capacity?",
     "What is the Far East gas pipeline's capacity?"),
    ("Qui est le conseiller de Poutine ?", "Qui est le conseiller de Xi ?", "Qui est le conseiller de Xi ?"),
])
def test_heuristic_rewrites(previous, question, standalone):
    rewrite = Rewriter(generator=None).rewrite(question, previous)
    assert rewrite.standalone == standalone
    assert rewrite.rewritten == (standalone != question)
    assert rewrite.source == ("heuristic" if rewrite.rewritten else "")


def test_nothing_is_rewritten_without_a_conversation():
    assert not Rewriter(None).rewrite("Et quand doit-il débuter ?", None).rewritten


def test_noun_phrases_and_the_checks_on_the_models_referent():
    assert noun_phrases(GAS)[0] == "les travaux du gazoduc d'Extrême-Orient"
    assert noun_phrases("Que disent Poutine et Xi du gazoduc d'Extrême-Orient ?")[0].endswith("gazoduc d'Extrême-Orient")
    assert noun_phrases("What did Putin and Xi discuss about the Far East gas pipeline?") == ["the Far East gas pipeline", "Putin and Xi"]
    assert check_referent("le gazoduc d'Extrême-Orient.", GAS) == "le gazoduc d'Extrême-Orient"
    for bad in ("", "Gustave Eiffel", "2004", "x" * 200, "Quand doit-il débuter ?", "les", "du"):
        assert check_referent(bad, GAS) is None, bad
    assert widen("Extrême-Orient", GAS) == "le gazoduc d'Extrême-Orient"
    assert widen("gas pipeline", "When will the Far East gas pipeline start?") == "the Far East gas pipeline"
    assert widen("Poutine", "Qui est le conseiller de Poutine ?") == "Poutine"


# ---- the model names the referent ----------------------------------------------------------------------------------
def test_model_rewrite_is_standalone(pipeline):
    """English here; the French follow-up goes through the model in test_terminal_session."""
    previous = "What did Putin and Xi discuss about the Far East gas pipeline?"
    rewrite = Rewriter(pipeline.generator).rewrite("When should it start?", previous)
    assert rewrite.rewritten and rewrite.source in {"model", "heuristic"}
    assert rewrite.standalone == "When should the Far East gas pipeline start?", rewrite
    assert detect_reference(rewrite.standalone) is None


# ---- conversation state and commands (no generation) ---------------------------------------------------------------
def _turn(question: str, answer: str, standalone: str | None = None) -> Turn:
    passage = Passage(n=1, doc_id=DOC, chunk_id="c", start=0, end=5, text="Le Kremlin", score=0.5)
    return Turn(Rewrite(question, standalone or question, seconds=0.2),
                Answer(question=standalone or question, answer=answer, abstained=False, passages=[passage],
                       timings_ms=Timings(retrieve=10, generate=90, total=100)))


def _console() -> Console:
    return Console(file=io.StringIO(), width=300, color_system=None, soft_wrap=True)


def test_conversation_is_bounded_and_commands_work(pipeline):
    conv = Conversation(pipeline, turns=2)
    console = _console()
    run_command("/history", conv, console)
    run_command("/sources", conv, console)
    for n in range(3):
        conv.turns.append(_turn(f"question {n}", f"answer {n}"))
    conv.turns.append(_turn("Et quand doit-il débuter ?", "2027 [1].", "Quand le gazoduc doit-il débuter ?"))
    assert [t.rewrite.question for t in conv.turns] == ["question 2", "Et quand doit-il débuter ?"]
    run_command("/history", conv, console)
    run_command("/sources", conv, console)
    run_command("/k 2", conv, console)
    run_command("/k 0", conv, console)
    run_command("/k x", conv, console)
    run_command("/nope", conv, console)
    run_command("/help", conv, console)
    out = console.file.getvalue()
    assert "no conversation yet" in out and "no answer yet" in out
    assert "1. question 2" in out and "2. Et quand doit-il débuter ?" in out and "↳ Quand le gazoduc doit-il débuter ?" in out
    assert f"[1] {DOC} [0:5] score 0.5000" in out and "Le Kremlin" in out
    assert conv.top_k == 2 and "k = 2" in out and "between 1 and" in out and "needs a number" in out
    assert "unknown command /nope" in out and "/sources" in out and "/quit" in out
    assert run_command("/quit", conv, console) is not None and run_command("/exit", conv, console) is not None
    run_command("/reset", conv, console)
    assert not conv.turns
    turn = _turn("Et quand doit-il débuter ?", "2027 [1].", "Quand le gazoduc doit-il débuter ?")
    assert status_line(turn).startswith("rewrite 200 ms · retrieve 10 ms · generate 90 ms · total 300 ms")
    data = json.loads(answer_json(turn))
    assert data["question"] == "Et quand doit-il débuter ?" and data["rewritten_question"] == "Quand le gazoduc doit-il débuter ?"
    assert "raw_answer" not in data


def test_piped_text_mode(pipeline):
    """Plain output, one question per line: answers, footnotes, timings; bad lines are reported and skipped."""
    conv, out, err = Conversation(pipeline), _console(), _console()
    lines = ["# a comment", "", "x" * 2001, "/k", "Quel est le prix du gaz livré à la Chine ?"]
    assert piped(conv, iter(lines), False, out, err) == 2
    text = out.file.getvalue()
    assert "> Quel est le prix du gaz livré à la Chine ?" in text
    assert "ne contiennent pas" in text and re.search(r"retrieve \d+ ms · generate \d+ ms · total \d+ ms", text)
    assert f"k = {pipeline.settings.top_k}" in text
    assert "line 3" in err.file.getvalue() and "limit is 2000" in err.file.getvalue()


# ---- the real command ----------------------------------------------------------------------------------------------
def test_piped_json_is_one_conversation(seed_index):
    lines = f"{GAS}\nEt quand doit-il débuter ?\n/quit\nQui est le conseiller de Poutine ?\n"
    command = ["chat", "--json", "--no-model-rewrite", "--index-dir", str(seed_index)]  # the rule-based rewrite
    result = subprocess.run([sys.executable, "-m", "rag.cli", *command],
                            input=lines, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["question"] == GAS and first["rewritten_question"] is None
    assert second["question"] == "Et quand doit-il débuter ?"
    assert second["rewritten_question"] == "Quand le gazoduc d'Extrême-Orient doit-il débuter ?"
    assert "2027" in second["answer"] and not second["abstained"]
    text = (ROOT / "seeds" / DOC).read_text(encoding="utf-8")
    assert any("2027" in c["quote"] for c in second["citations"])
    for c in first["citations"] + second["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]
    assert set(second["timings_ms"]) >= {"retrieve", "generate", "total"}


def test_terminal_session(seed_index, tmp_path):
    """A real pty: input history from an earlier session, Ctrl-C at the prompt and during an answer, a question
    and a follow-up with footnotes and the rewritten query, the commands, and a clean exit on Ctrl-D."""
    history = tmp_path / "state" / "chat_history"
    history.parent.mkdir()
    history.write_text("\n# 2025-01-01 00:00:00.000000\n+Qui est le conseiller de Poutine ?\n", encoding="utf-8")
    env = dict(os.environ, RAG_CHAT_HISTORY_FILE=str(history), PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    child = pexpect.spawn(sys.executable, ["-m", "rag.cli", "chat", "--index-dir", str(seed_index)], cwd=str(ROOT),
                          env=env, encoding="utf-8", dimensions=(50, 400), timeout=300)
    log = io.StringIO()
    child.logfile_read = log

    def screen() -> str:
        return " ".join(ANSI.sub("", log.getvalue()).split())

    try:
        child.expect(r"k=(\d+) · /help for commands")
        default_k = child.match.group(1)
        child.expect("›")
        child.send("\x1b[A")  # up arrow: the question typed in the earlier session
        child.expect("conseiller de Poutine")
        child.sendcontrol("c")  # Ctrl-C at the prompt clears the line
        child.expect("›")

        child.sendline("/k 12")  # a long prompt, so that the answer cannot be over before Ctrl-C arrives
        child.expect("k = 12")
        child.expect("›")
        child.sendline("Quel est le prix du gaz livré à la Chine ?")
        child.expect("writing…|▌")
        child.sendcontrol("c")  # cancels this answer; the session goes on
        child.expect(r"\(cancelled after")
        child.expect("›")
        child.sendline(f"/k {default_k}")
        child.expect(f"k = {default_k}")
        child.expect("›")

        child.sendline(GAS)
        child.expect(r"total \d+ ms")
        child.expect("›")
        child.sendline("Et quand doit-il débuter ?")
        child.expect(r"↳ [^\r\n]*gazoduc d'Extrême-Orient[^\r\n]*débuter")
        child.expect(r"total \d+ ms")
        child.expect("›")
        answer = screen().rsplit("Et quand doit-il débuter ?", 1)[1]
        assert re.search(rf"\[\d+\] {re.escape(DOC)} \[\d+:\d+\] “[^”]*2027[^”]*”", answer), answer
        assert re.search(r"rewrite \d+ ms · retrieve \d+ ms · generate \d+ ms · total \d+ ms", answer)

        child.sendline("/history")
        child.expect("2. Et quand doit-il débuter ?")
        child.expect("›")
        child.sendline("/sources")
        child.expect(rf"\[1\] {re.escape(DOC)} \[\d+:\d+\] score")
        child.expect("›")
        child.sendcontrol("d")  # Ctrl-D leaves (as /quit does)
        child.expect("bye")
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        raise AssertionError(f"{type(exc).__name__}; screen so far:\n{screen()[-3000:]}") from None
    finally:
        child.close()
    assert child.exitstatus == 0
    history_text = history.read_text(encoding="utf-8")
    assert "+Et quand doit-il débuter ?" in history_text and f"+{GAS}" in history_text and "+/history" in history_text
    session = screen()
    assert "1. " + GAS in session and "Quel est le prix" not in session.split("/history", 1)[1].split("/sources")[0]
