"""Outputs of a run: report.json (everything), report.md (tables), report.png (charts); and comparison of two runs."""
from __future__ import annotations

import json
from pathlib import Path

from eval.metrics import lower_is_better

HEADLINE = ("n", "correct", "accuracy", "em", "f1", "abstain_precision", "abstain_recall", "over_abstention",
            "citation_precision", "citation_hit", "quote_exact", "lang_match", "lang_judged", "context_hit",
            "hit@*", "mrr@*", "ndcg@*", "latency_retrieve*", "latency_generate*", "latency_total*", "gen_tokens*")


def fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_json(report: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return lines


def _breakdown_table(parts: dict, names: list[str]) -> list[str]:
    return _table(["group", *names], [[group, *[m.get(n) for n in names]] for group, m in parts.items()])


def markdown(report: dict) -> str:
    cfg, metrics = report["config"], report["metrics"]
    lines = [f"# rag eval — {cfg['run']}", "",
             f"- gold: `{cfg['gold']}` ({cfg['n_items']} questions{', sample ' + str(cfg['sample']) + ' seed ' + str(cfg['seed']) if cfg.get('sample') else ''})",
             f"- docs: `{cfg['docs']}`; index: `{cfg['index_dir']}`",
             f"- models: {', '.join(f'{k}={v}' for k, v in report['models'].items())}",
             f"- wall time: {report['timing']['wall_s']:.1f} s (index {report['timing']['index_s']:.1f} s)"]
    lines += [f"- **warning: {w}**" for w in cfg.get("warnings") or []] + [""]
    if cfg["run"] == "retrieval":
        modes = cfg["modes"]
        names = sorted({n.split("/", 1)[1] for n in metrics if "/" in n}, key=_metric_order)
        lines += ["## Retrieval", ""] + _table(["metric", *modes], [[n, *[metrics.get(f"{m}/{n}") for m in modes]] for n in names])
        for mode in modes:
            lines += ["", f"### {mode} by language and type", ""]
            lines += _breakdown_table(report["breakdown"][mode], ["n", "hit@1", "hit@5", "mrr@10"])
    else:
        lines += ["## Metrics", ""] + _table(["metric", "value"], [[n, metrics[n]] for n in sorted(metrics, key=_metric_order)])
        lines += ["", "## By language and type", ""]
        lines += _breakdown_table(report["breakdown"], ["n", "correct", "accuracy", "f1", "abstain_recall", "citation_hit", "hit@5"])
        if cfg["run"] == "conversations":
            from eval.conversations import rewrite_lines

            lines += rewrite_lines(report["rows"], _cell)
        misses = [r for r in report["rows"] if not r.get("correct")]
        if misses:
            lines += ["", f"## Misses ({len(misses)})", ""]
            lines += _table(["id", "question", "expected", "answer"], [
                [r["id"], _cell(r["question"]), _cell(" / ".join(r.get("answers") or []) or "(abstain)"),
                 _cell(("[abstained] " if r.get("abstained") else "") + (r.get("answer") or ""))] for r in misses])
    if report.get("comparison"):
        lines += ["", "## Compared with " + report["comparison"]["previous"], ""] + comparison_lines(report["comparison"])
    return "\n".join(lines) + "\n"


def _cell(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _metric_order(name: str) -> tuple:
    """Headline metrics first (a trailing * matches a prefix), hit@k by k, latencies last; then the mode prefix."""
    base = name.split("/")[-1]
    rank = next((i for i, head in enumerate(HEADLINE)
                 if base == head or (head.endswith("*") and base.startswith(head[:-1]))), len(HEADLINE))
    k = base.split("@")[-1]
    return (rank, int(k) if k.isdigit() else 0, base, name)


def write_markdown(report: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / "report.md"
    path.write_text(markdown(report), encoding="utf-8")
    return path


def write_png(report: dict, out_dir: Path) -> Path | None:
    """Score by question type and by language (correct, or hit@5 per mode in retrieval runs), and a latency histogram."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows, retrieval = report["rows"], report["config"]["run"] == "retrieval"
    if retrieval:  # unanswerable rows have no relevant chunk to find
        series = [(m, [r for r in rows if r["mode"] == m and r.get("answerable", True)]) for m in report["config"]["modes"]]
        score_name, stages = "hit@5", [(m, "retrieve") for m in report["config"]["modes"]]
    else:
        series = [("all", rows)]
        score_name, stages = "correct", [("all", "retrieve"), ("all", "generate"), ("all", "total")]

    def score(r: dict) -> float:
        return float(any(r["relevance"][:5])) if retrieval else float(bool(r.get("correct")))

    fig, axes = plt.subplots(1, 3, figsize=(16, 5), gridspec_kw={"width_ratios": [3, 1, 2]})
    for ax, key in zip(axes[:2], ("type", "lang")):
        groups = sorted({r[key] for _, rs in series for r in rs})
        width = 0.8 / len(series)
        for si, (label, rs) in enumerate(series):
            values = [_share([score(r) for r in rs if r[key] == g]) for g in groups]
            ax.bar([i + si * width for i in range(len(groups))], values, width, label=label)
        ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(groups))])
        ax.set_xticklabels([f"{g}\n(n={sum(r[key] == g for r in series[0][1])})" for g in groups],
                           rotation=30 if key == "type" else 0, ha="right" if key == "type" else "center", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{score_name} by {'question type' if key == 'type' else 'language'}")
        if len(series) > 1:
            ax.legend(fontsize=8)
    latency = axes[2]
    for label, stage in stages:
        rs = next(rs for name, rs in series if name == label) if retrieval else rows
        values = [r["timings_ms"][stage] for r in rs if (r.get("timings_ms") or {}).get(stage) is not None]
        if values:
            latency.hist(values, bins=30, alpha=0.55, label=label if retrieval else stage)
    latency.set_title("retrieval latency per question (ms)" if retrieval else "latency per question (ms)")
    latency.set_xlabel("ms")
    latency.legend(fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / "report.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _share(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# ---- comparison ----------------------------------------------------------------------------------------------------
def load_previous(path: Path) -> dict:
    from eval.dataset import DatasetError

    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(report.get("metrics"), dict):
            raise ValueError("no 'metrics' object")
        return report
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such report to compare with") from None
    except (ValueError, AttributeError) as exc:
        raise DatasetError(f"{path}: not a report.json ({exc})") from None


def resolve_metric(name: str, metrics: dict) -> str:
    """The exact name, or the single `mode/name` that ends with it."""
    if name in metrics:
        return name
    matches = [m for m in metrics if m.split("/")[-1] == name]
    if len(matches) == 1:
        return matches[0]
    from eval.dataset import DatasetError

    hint = "ambiguous: " + ", ".join(matches) if matches else "available: " + ", ".join(sorted(metrics)[:12]) + "…"
    raise DatasetError(f"--fail-metric {name!r} is not in this run's metrics ({hint})")


def compare(current: dict, previous: dict, previous_path: str, fail_metric: str | None, max_drop: float) -> dict:
    """Deltas for every numeric metric both runs share; `failed` when fail_metric worsened by more than max_drop
    (for latency and over-abstention, worsening means going up)."""
    now, before = current["metrics"], previous["metrics"]
    deltas = {}
    for name in sorted(set(now) & set(before), key=_metric_order):
        a, b = before[name], now[name]
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            deltas[name] = {"previous": a, "current": b, "delta": b - a}
    result = {"previous": str(previous_path), "deltas": deltas, "fail_metric": None, "failed": False, "notes": []}
    for section, keys in (("config", ("gold_sha256", "n_items", "run")), ("models", None)):
        old, new = previous.get(section) or {}, current.get(section) or {}
        for key in keys or sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                result["notes"].append(f"{section}.{key}: {old.get(key)} -> {new.get(key)}")
    if fail_metric:
        name = resolve_metric(fail_metric, now)
        if name not in deltas:
            from eval.dataset import DatasetError

            raise DatasetError(f"--fail-metric {name!r} has no value in {previous_path} to compare with")
        d = deltas[name]["delta"]
        worsening = d if lower_is_better(name) else -d
        result.update(fail_metric=name, worsening=worsening, max_drop=max_drop, failed=worsening > max_drop)
    return result


def comparison_lines(comparison: dict) -> list[str]:
    rows = [[name, d["previous"], d["current"], f"{d['delta']:+.3f}" + (" ▲" if _better(name, d["delta"]) else " ▼" if _better(name, -d["delta"]) else "")]
            for name, d in comparison["deltas"].items()]
    lines = _table(["metric", "previous", "current", "delta"], rows)
    lines += [f"- note: {n}" for n in comparison["notes"]]
    if comparison.get("fail_metric"):
        verdict = "FAILED" if comparison["failed"] else "ok"
        lines.append(f"- gate: {comparison['fail_metric']} worsened by {comparison['worsening']:+.3f} "
                     f"(max allowed {comparison['max_drop']}): {verdict}")
    return lines


def _better(name: str, delta: float) -> bool:
    return delta < -1e-12 if lower_is_better(name) else delta > 1e-12
