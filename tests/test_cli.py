"""The real `rag` command in a subprocess: bad input gives one readable line and a non-zero exit."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def rag(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _one_line_error(result):
    assert result.returncode != 0
    lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_help_explains_commands():
    out = rag("--help").stdout
    for command in ("index", "ask", "serve"):
        assert command in out


@pytest.mark.parametrize("question, fragment", [("   ", "empty"), ("x" * 2001, "limit is 2000")])
def test_bad_questions(seed_index, question, fragment):
    line = _one_line_error(rag("ask", question, "--index-dir", str(seed_index)))
    assert fragment in line


def test_missing_index(tmp_path):
    line = _one_line_error(rag("ask", "Qui ?", "--index-dir", str(tmp_path / "none")))
    assert "no index" in line and "rag index" in line


def test_missing_path_and_bad_files(tmp_path):
    assert "no such file" in _one_line_error(rag("index", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i")))
    bad = tmp_path / "bin.txt"
    bad.write_bytes(bytes(range(256)))
    assert "binary" in _one_line_error(rag("index", str(bad), "--index-dir", str(tmp_path / "i")))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    assert "UTF-8" in _one_line_error(rag("index", str(latin), "--index-dir", str(tmp_path / "i")))
    assert not (tmp_path / "i" / "CURRENT").exists()


def test_index_reads_html_and_lists_what_it_skipped(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "port.html").write_text("<html><body><script>var x;</script><p>Le port a été agrandi en 1998.</p></body></html>",
                                    encoding="utf-8")
    (docs / "notes.docx").write_bytes(b"PK\x03\x04")
    result = rag("index", str(docs), "--index-dir", str(tmp_path / "idx"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout and "; skipped 1 unsupported file: notes.docx" in result.stdout


def test_index_then_ask_json(tmp_path):
    index_dir = tmp_path / "idx"
    first = rag("index", "seeds", "--index-dir", str(index_dir), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "1 added" in first.stdout
    again = rag("index", "seeds", "--index-dir", str(index_dir), "--quiet")
    assert "1 unchanged" in again.stdout and "0 chunks embedded" in again.stdout
    result = rag("ask", "En quelle année l'approvisionnement en gaz via le gazoduc doit-il commencer ?", "--json",
                 "--index-dir", str(index_dir))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "answer", "abstained", "citations", "passages", "timings_ms"}
    assert "2027" in answer["answer"] and not answer["abstained"]
    text = (ROOT / "seeds" / "000_c35498bb09d10278.txt").read_text(encoding="utf-8")
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]
