"""Merge reports of the same gold set run in slices (`--offset/--limit`) into one, re-scored from the rows."""
from __future__ import annotations

from pathlib import Path

from eval.dataset import DatasetError, load_docs
from eval.report import load_previous

SAME = ("run", "gold_sha256", "docs", "modes", "k", "top_k")


def merge_reports(paths: list[Path]) -> dict:
    """Different gold, docs or settings refuse; different code (the core changed between slices) is allowed but
    recorded in config.warnings and models.code_sha256 (then a list), since it makes the figures a mixture."""
    reports = [load_previous(p) for p in paths]
    first = reports[0]
    settings = lambda r: {k: v for k, v in r["models"].items() if k != "code_sha256"}  # noqa: E731
    for path, report in zip(paths[1:], reports[1:]):
        for key in SAME:
            if report["config"].get(key) != first["config"].get(key):
                raise DatasetError(f"{path}: {key} differs from {paths[0]}; only slices of one run can be merged")
        if settings(report) != settings(first):
            raise DatasetError(f"{path}: models or settings differ from {paths[0]}")
    codes = list(dict.fromkeys(r["models"].get("code_sha256") for r in reports))
    warnings = [f"slices ran on {len(codes)} versions of the code: {', '.join(map(str, codes))}"] if len(codes) > 1 else []
    rows, seen = [], set()
    for report in reports:
        for row in report["rows"]:
            key = (row["id"], row.get("mode"))
            if key in seen:
                raise DatasetError(f"question {row['id']} appears in more than one report")
            seen.add(key)
            rows.append(row)
    config = dict(first["config"], n_items=len({r["id"] for r in rows}), merged_from=[str(p) for p in paths],
                  sample=None, limit=None, offset=None, warnings=warnings)
    timing = {k: round(sum(r["timing"].get(k) or 0 for r in reports), 2) for k in ("index_s", "eval_s", "wall_s")}
    timing["questions_per_s"] = round(len(rows) / timing["eval_s"], 2) if timing["eval_s"] else None
    from eval.runner import score

    texts = load_docs(Path(config["docs"])) if config["run"] == "generation" else None
    metrics, parts = score(rows, config["run"], config["modes"], config["k"], texts)
    models = dict(first["models"], code_sha256=codes if len(codes) > 1 else codes[0])
    return dict(first, config=config, models=models, timing=timing, metrics=metrics, breakdown=parts, rows=rows,
                environment=dict(first["environment"], merged_environments=[r["environment"] for r in reports]))
