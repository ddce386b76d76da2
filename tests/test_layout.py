"""The layout's rules (pyproject.toml, [tool.importlinter]): layers from the command line down to index/, and no
import circles; every role package says what it owns and what it may import."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROLE_PACKAGES = ["rag.models", "rag.retrieval", "rag.checks", "rag.text", "rag.conversation", "rag.cli"]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("name", ROLE_PACKAGES)
def test_role_packages_say_what_they_own_and_may_import(name):
    doc = importlib.import_module(name).__doc__ or ""
    assert len(doc.split()) >= 15, f"{name} has no docstring describing its role"
    assert "import" in doc, f"{name}'s docstring does not say what it may import"
