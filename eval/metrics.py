"""Metric callables. Each evaluator takes per-question rows (plain dicts, see eval/runner.py) and returns a flat
`{"name@k": value}` dict, like sentence-transformers evaluators. A value is None where it is undefined (no row
it applies to), never a silent 0 or 1.

The normalisation here is written out on purpose instead of reusing rag.text.textnorm: the metric must not move when the
system's own text handling changes.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import Callable, Iterable

Row = dict
Evaluator = Callable[[list[Row]], dict]

_ARTICLES = {
    "fr": re.compile(r"\b(le|la|les|un|une|des|du|de)\b"),
    "en": re.compile(r"\b(a|an|the)\b"),
}
_FR_ELISION = re.compile(r"\b[ld]['’]")
_CITATION_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;–-]\s*\d+)*\]")
MAX_ANSWER_WORDS = 50


# ---- answer text --------------------------------------------------------------------------------------------------
def _drop_punctuation(text: str, repl: str = "") -> str:
    return "".join(repl if unicodedata.category(c).startswith("P") else c for c in text)


def strip_citations(text: str) -> str:
    """The answer without its [n] citation markers: they are references, not answer words."""
    return _CITATION_MARKER.sub("", text).strip()


def normalize_answer(text: str, lang: str | None = "en") -> str:
    """SQuAD v1.1 normalisation; French: also the elided articles l'/d' and le/la/les/un/une/des/du/de."""
    text = text.lower()
    if lang == "fr":
        text = _FR_ELISION.sub(" ", text)
    text = _drop_punctuation(text)
    text = _ARTICLES.get(lang or "en", _ARTICLES["en"]).sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: Iterable[str], lang: str | None = "en") -> float:
    pred = normalize_answer(prediction, lang)
    return float(any(pred == normalize_answer(g, lang) for g in golds))


def token_f1(prediction: str, golds: Iterable[str], lang: str | None = "en") -> float:
    pred = normalize_answer(prediction, lang).split()
    best = 0.0
    for gold in golds:
        ref = normalize_answer(gold, lang).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if not pred or not ref:
            score = float(pred == ref)
        elif common == 0:
            score = 0.0
        else:
            p, r = common / len(pred), common / len(ref)
            score = 2 * p * r / (p + r)
        best = max(best, score)
    return best


def fold_for_match(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces: 'Extrême-Orient' -> 'extreme orient'."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(_drop_punctuation(text, " ").split())


def contains_answer(prediction: str, golds: Iterable[str]) -> bool:
    """An acceptable form occurs as a whole word or phrase, ignoring case, accents and punctuation."""
    pred = f" {fold_for_match(prediction)} "
    return any((form := fold_for_match(g)) and f" {form} " in pred for g in golds)


def answer_accurate(prediction: str, golds: Iterable[str], max_words: int = MAX_ANSWER_WORDS) -> bool:
    """Accuracy: the answer holds an acceptable form and stays concise (at most max_words words)."""
    return len(prediction.split()) <= max_words and contains_answer(prediction, golds)


# ---- retrieval ----------------------------------------------------------------------------------------------------
def hit_at_k(relevance: list[bool], k: int) -> float:
    return float(any(relevance[:k]))


def mrr_at_k(relevance: list[bool], k: int) -> float:
    return next((1.0 / rank for rank, rel in enumerate(relevance[:k], start=1) if rel), 0.0)


def ndcg_at_k(relevance: list[bool], k: int, n_relevant: int | None = None) -> float:
    """Binary nDCG; the ideal ranking puts min(n_relevant, k) relevant chunks first (n_relevant defaults to those
    retrieved)."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(relevance[:k], start=1) if rel)
    ideal_n = min(k, n_relevant if n_relevant is not None else sum(relevance))
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal_n + 1))
    return dcg / idcg if idcg else 0.0


def spans_overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Half-open [start, end) intervals share at least one character."""
    return a_start < b_end and b_start < a_end


def is_relevant(doc_id: str, start: int, end: int, gold_docs: list[str], gold_spans: list[list]) -> bool:
    """Relevant = overlaps an evidence span when the item has spans, else lies in a gold document."""
    if gold_spans:
        return any(d == doc_id and spans_overlap(start, end, s, e) for d, s, e in gold_spans)
    return doc_id in gold_docs


# ---- helpers ------------------------------------------------------------------------------------------------------
def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# ---- evaluators ---------------------------------------------------------------------------------------------------
class RetrievalEvaluator:
    """hit@k, MRR@k and nDCG@k over rows with `relevance` (one bool per retrieved chunk, in rank order) and
    `n_relevant`; unanswerable rows (no gold evidence) are skipped."""

    def __init__(self, ks: tuple[int, ...] = (1, 3, 5, 10), mrr_k: int = 10, ndcg_k: int = 10, prefix: str = ""):
        self.ks, self.mrr_k, self.ndcg_k, self.prefix = ks, mrr_k, ndcg_k, prefix

    def __call__(self, rows: list[Row]) -> dict:
        rows = [r for r in rows if r.get("answerable", True) and r.get("relevance") is not None]
        out = {f"hit@{k}": _mean([hit_at_k(r["relevance"], k) for r in rows]) for k in self.ks}
        out[f"mrr@{self.mrr_k}"] = _mean([mrr_at_k(r["relevance"], self.mrr_k) for r in rows])
        out[f"ndcg@{self.ndcg_k}"] = _mean([ndcg_at_k(r["relevance"], self.ndcg_k, r.get("n_relevant")) for r in rows])
        return {self.prefix + k: v for k, v in out.items()}


class AnswerEvaluator:
    """SQuAD EM / token F1 and answer accuracy on answerable rows, [n] citation markers removed first (an abstention
    scores 0); `correct` covers every row: accurate when answerable, abstained when not."""

    def __init__(self, max_words: int = MAX_ANSWER_WORDS):
        self.max_words = max_words

    def score_row(self, row: Row) -> dict:
        if not row.get("answerable", True):
            return {"em": None, "f1": None, "accuracy": None, "correct": bool(row.get("abstained"))}
        text = "" if row.get("abstained") else strip_citations(row.get("answer") or "")
        golds, lang = row.get("answers") or [], row.get("lang")
        accurate = bool(text) and answer_accurate(text, golds, self.max_words)
        return {"em": exact_match(text, golds, lang) if text else 0.0, "f1": token_f1(text, golds, lang) if text else 0.0,
                "accuracy": float(accurate), "correct": accurate}

    def __call__(self, rows: list[Row]) -> dict:
        scored = [self.score_row(r) for r in rows]
        out = {k: _mean([s[k] for s in scored if s[k] is not None]) for k in ("em", "f1", "accuracy")}
        out["correct"] = _mean([float(s["correct"]) for s in scored])
        return out


class AbstentionEvaluator:
    """Precision/recall of abstaining on unanswerable questions, and over-abstention on answerable ones."""

    def __call__(self, rows: list[Row]) -> dict:
        abstained = [r for r in rows if r.get("abstained")]
        unanswerable = [r for r in rows if not r.get("answerable", True)]
        answerable = [r for r in rows if r.get("answerable", True)]
        right = sum(1 for r in abstained if not r.get("answerable", True))
        return {
            "abstain_precision": _ratio(right, len(abstained)),
            "abstain_recall": _ratio(right, len(unanswerable)),
            "over_abstention": _ratio(sum(1 for r in answerable if r.get("abstained")), len(answerable)),
        }


class CitationEvaluator:
    """Rows carry `citations` [{doc_id, start, end, quote}], `gold_docs` and `gold_spans`; `texts` maps doc_id to
    the indexed text (for quote exactness).
    - citation_precision: per answerable question, the share of its citations that overlap the evidence (or lie in
      a gold doc when the item has no spans), averaged over answerable questions with at least one citation;
    - citation_hit: share of all answerable questions with at least one such citation (abstaining is a miss);
    - quote_exact: share of all citations, on every row, whose quote equals text[start:end]."""

    def __init__(self, texts: dict[str, str] | None = None):
        self.texts = texts or {}

    def quote_is_exact(self, citation: dict) -> bool:
        text = self.texts.get(citation["doc_id"])
        start, end = citation["start"], citation["end"]
        return text is not None and 0 <= start <= end <= len(text) and text[start:end] == citation["quote"]

    def __call__(self, rows: list[Row]) -> dict:
        precisions, hits, answerable = [], 0, 0
        cites_all = [c for r in rows for c in r.get("citations") or []]
        for r in rows:
            if not r.get("answerable", True):
                continue
            answerable += 1
            good = [is_relevant(c["doc_id"], c["start"], c["end"], r.get("gold_docs") or [], r.get("gold_spans") or [])
                    for c in r.get("citations") or []]
            if good:
                precisions.append(sum(good) / len(good))
            hits += int(any(good))
        return {"citation_precision": _mean(precisions), "citation_hit": _ratio(hits, answerable),
                "quote_exact": _ratio(sum(map(self.quote_is_exact, cites_all)), len(cites_all))}


class LanguageEvaluator:
    """Share of answers in the question's language. Answers under `min_words` words ('2027', 'CNN') carry no
    language and are left out; `detect` defaults to rag.text.lang.detect_language."""

    def __init__(self, detect: Callable[[str], str] | None = None, min_words: int = 3):
        self.detect, self.min_words = detect, min_words

    def __call__(self, rows: list[Row]) -> dict:
        detect = self.detect or _default_detector()
        judged = [r for r in rows if r.get("lang") and len(re.findall(r"[^\W\d_]{2,}", r.get("answer") or "")) >= self.min_words]
        return {"lang_match": _mean([float(detect(r["answer"]) == r["lang"]) for r in judged]), "lang_judged": len(judged)}


def _default_detector() -> Callable[[str], str]:
    from rag.text.lang import detect_language

    return detect_language


class LatencyEvaluator:
    """p50/p95 of timings_ms (retrieve, generate, total) and the median generation tokens/s."""

    def __init__(self, stages: tuple[str, ...] = ("retrieve", "generate", "total")):
        self.stages = stages

    def __call__(self, rows: list[Row]) -> dict:
        out = {}
        for stage in self.stages:
            values = [r["timings_ms"][stage] for r in rows if (r.get("timings_ms") or {}).get(stage) is not None]
            out[f"latency_{stage}_ms@p50"] = percentile(values, 50)
            out[f"latency_{stage}_ms@p95"] = percentile(values, 95)
        if "generate" in self.stages:
            speeds = [r["tokens_per_second"] for r in rows if r.get("tokens_per_second")]
            out["gen_tokens_per_s@p50"] = percentile(speeds, 50)
        return out


class SequentialEvaluator:
    """Runs several evaluators and merges their dicts."""

    def __init__(self, evaluators: list[Evaluator]):
        self.evaluators = evaluators

    def __call__(self, rows: list[Row]) -> dict:
        out: dict = {"n": len(rows)}
        for evaluator in self.evaluators:
            out.update(evaluator(rows))
        return out


def breakdown(rows: list[Row], evaluator: Evaluator, keys: tuple[str, ...] = ("lang", "type")) -> dict:
    """{"lang=fr": metrics, "type=date": metrics, ...}: the evaluator on each group."""
    out = {}
    for key in keys:
        for value in sorted({str(r.get(key)) for r in rows}):
            out[f"{key}={value}"] = evaluator([r for r in rows if str(r.get(key)) == value])
    return out


LOWER_IS_BETTER = ("latency_", "over_abstention")


def lower_is_better(name: str) -> bool:
    return any(part in name for part in LOWER_IS_BETTER)
