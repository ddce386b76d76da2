"""CI smoke for `rag eval`: a bounded run end to end, with floors set a little below measured values.

- PIAF: retrieval-only, bm25/dense/hybrid, on the first 30 paragraphs of ../shared/eval/piaf-dev and their questions.
- Seed: 4 generated questions (3 answerable, 1 unanswerable) through the real pipeline and model.
Floors were set from measured runs (see eval/README.md); they catch a broken retriever, index or verifier, not
small drifts, because generation on a busy 2-core machine is not bit-stable.
"""
import json
import shutil
from pathlib import Path

import pytest

from eval import cli

ROOT = Path(__file__).resolve().parents[1]
PIAF = ROOT.parent / "shared" / "eval" / "piaf-dev"
SEED_GOLD = ROOT / "eval" / "gold" / "seed_gold.jsonl"
N_PARAGRAPHS = 30
SEED_IDS = ("fr-03", "en-05", "fr-28", "fr-u01")

PIAF_FLOORS = {  # measured with e5: bm25 0.653/0.860, dense 0.640/0.967, hybrid 0.687/0.920 (hit@1/hit@5), hybrid mrr@10 0.787
    "bm25/hit@1": 0.58, "bm25/hit@5": 0.80,
    "dense/hit@1": 0.57, "dense/hit@5": 0.90,
    "hybrid/hit@1": 0.62, "hybrid/hit@5": 0.86, "hybrid/mrr@10": 0.72,
}


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def piaf_subset(tmp_path_factory):
    if not (PIAF / "qa.jsonl").is_file() or not (PIAF / "docs_par").is_dir():
        pytest.skip(f"PIAF dev split not found at {PIAF} (expected qa.jsonl and docs_par/): PIAF smoke skipped")
    root = tmp_path_factory.mktemp("piaf")
    docs = root / "docs"
    docs.mkdir()
    chosen = sorted(PIAF.glob("docs_par/*.txt"))[:N_PARAGRAPHS]
    for path in chosen:
        shutil.copy(path, docs / path.name)
    keep = {p.stem for p in chosen}
    lines = [line for line in (PIAF / "qa.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["doc_id"] in keep]
    (root / "qa.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_piaf_retrieval_smoke(piaf_subset, tmp_path):
    out = tmp_path / "run1"
    argv = ["--gold", str(piaf_subset / "qa.jsonl"), "--docs", str(piaf_subset / "docs"), "--index-dir", str(tmp_path / "index"),
            "--retrieval-only", "--modes", "bm25,dense,hybrid", "--out", str(out), "--quiet"]
    assert cli.main(argv) == 0
    report = _report(out)
    metrics = report["metrics"]
    assert report["config"]["n_docs"] == N_PARAGRAPHS and report["config"]["n_items"] >= 100
    low = {name: metrics[name] for name, floor in PIAF_FLOORS.items() if metrics[name] < floor}
    assert not low, f"below floor: {low}"
    rows = report["rows"]
    assert len(rows) == 3 * report["config"]["n_items"] and all(len(r["retrieved"]) <= 10 for r in rows)
    assert (out / "report.md").is_file() and (out / "report.png").stat().st_size > 10_000

    # the gate: a cheap bm25-only rerun against this report passes; against a doctored better one it exits 1
    rerun = argv[:4] + ["--index-dir", str(tmp_path / "index"), "--retrieval-only", "--modes", "bm25", "--quiet"]
    gate = ["--fail-metric", "bm25/hit@5", "--max-drop", "0.0"]
    assert cli.main(rerun + ["--out", str(tmp_path / "run2"), "--compare", str(out / "report.json"), *gate]) == 0
    assert _report(tmp_path / "run2")["comparison"]["deltas"]["bm25/hit@5"]["delta"] == 0
    better = dict(report, metrics=dict(metrics, **{"bm25/hit@5": metrics["bm25/hit@5"] + 0.05}))
    (tmp_path / "better.json").write_text(json.dumps(better), encoding="utf-8")
    assert cli.main(rerun + ["--out", str(tmp_path / "run3"), "--compare", str(tmp_path / "better.json"), *gate]) == 1
    gate[-1] = "0.06"
    assert cli.main(rerun + ["--out", str(tmp_path / "run4"), "--compare", str(tmp_path / "better.json"), *gate]) == 0
    # a metric name that matches several modes is refused before anything runs
    assert cli.main(rerun + ["--compare", str(out / "report.json"), "--fail-metric", "hit@5"]) == 2


def test_seed_generation_smoke(tmp_path):
    try:
        from rag.models.assets import AssetError, resolve_gguf
        from rag.config import Settings

        settings = Settings()
        resolve_gguf(settings.generator, settings.cache_dir)
        import llama_cpp  # noqa: F401
    except (ImportError, AssetError) as exc:
        pytest.skip(f"generator not available: {exc}")
    gold = tmp_path / "gold.jsonl"
    rows = [line for line in SEED_GOLD.read_text(encoding="utf-8").splitlines() if json.loads(line)["id"] in SEED_IDS]
    gold.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["--gold", str(gold), "--index-dir", str(tmp_path / "index"), "--out", str(out), "--quiet"]) == 0
    report = _report(out)
    metrics = report["metrics"]
    assert report["config"]["n_items"] == len(SEED_IDS)
    assert metrics["quote_exact"] in (None, 1.0)  # every quote is the source text at its offsets: an invariant
    assert metrics["context_hit"] >= 2 / 3 and metrics["hit@5"] == 1.0
    assert metrics["correct"] >= 0.5, [(r["id"], r["answer"]) for r in report["rows"]]
    assert metrics["latency_total_ms@p50"] is not None and report["models"]["generator_sha256"]
    for row in report["rows"]:
        assert row["answer"] and set(row["timings_ms"]) >= {"retrieve", "generate", "total"}
