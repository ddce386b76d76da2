"""schemathesis against the service's own OpenAPI spec, on a real server with API keys on: every check
(no 5xx, documented status codes, content types and headers, response schemas, invalid input rejected, auth
enforced), bounded by api/schemathesis.toml to about a minute. The summary is printed (pytest -s shows it)."""
import re
import shutil
import subprocess
import sys

import pytest

from api.testing import ROOT, running_server

KEY = "schemathesis-key"


@pytest.fixture(scope="module")
def server(seed_index, tmp_path_factory):
    index = tmp_path_factory.mktemp("schema") / "index"
    shutil.copytree(seed_index, index)  # the run adds, replaces and deletes documents
    with running_server(index, env={"RAG_API_KEYS": KEY}) as s:
        yield s


def test_schemathesis_finds_no_5xx_and_no_schema_violations(server, tmp_path):
    command = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file", str(ROOT / "api" / "schemathesis.toml"), "--no-color",
        "run", f"{server.base}/openapi.json", "-H", f"Authorization: Bearer {KEY}",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(summary)
    assert run.returncode == 0, output[-8000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated and generated.group(1) == generated.group(2) and int(generated.group(1)) > 100
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}", output), phase
    assert '"level": "error"' not in server.log()  # no unhandled exception behind any response
