"""eval.scale, bounded: 10^3 chunks of recombined PIAF sentences on FAISS and on Milvus Lite, built and queried in
their own processes; the figures come out complete and the retrieval finds the answers' sentences."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.scale import PIAF, compositions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not PIAF.is_dir(), reason="the PIAF dev set (../shared/eval/piaf-dev) is not here")
def test_scale_figures_at_a_thousand_chunks(tmp_path):
    out = tmp_path / "scale.json"
    run = subprocess.run([sys.executable, "-m", "eval.scale", "--sizes", "1000", "--pool", "30", "--real", "40",
                          "--queries", "20", "--cache", str(tmp_path / "cache"), "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["pool"]["chunks_per_s"] > 0 and 0.8 < figures["pool"]["cosine_real_vs_mean"] < 1
    rows = {r["store"]: r for r in figures["rows"]}
    assert set(rows) == {"faiss", "milvus-lite"}
    for row in rows.values():
        assert row["size"] == 1000 and row["chunks_per_s"] > 0 and row["disk_mb"] > 0 and row["rss_mb"] > 0
        assert 0 < row["hybrid_p50_ms"] <= row["hybrid_p95_ms"]
        assert row["dense_hit@10"] > 0 and row["bm25_hit@10"] > 0
    assert rows["faiss"]["index_kind"] == "flat"
    assert "| faiss | 1,000 | flat |" in run.stdout


def test_compositions_do_not_depend_on_the_size():
    small, large = compositions(10, 50), compositions(1000, 50)
    assert (small[0] == large[0][:10]).all() and (small[1] == large[1][:10]).all()
    assert set(small[0]) <= {2, 3, 4}
