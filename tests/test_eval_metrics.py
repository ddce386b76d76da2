"""Metric callables on hand-computed cases, including cases that must not match."""
import math

import pytest

from eval.metrics import (
    AbstentionEvaluator, AnswerEvaluator, CitationEvaluator, LanguageEvaluator, LatencyEvaluator, RetrievalEvaluator,
    SequentialEvaluator, answer_accurate, breakdown, contains_answer, exact_match, hit_at_k, is_relevant, mrr_at_k,
    ndcg_at_k, normalize_answer, percentile, token_f1,
)
from eval.report import compare, resolve_metric


# ---- normalisation, EM, F1 ----------------------------------------------------------------------------------------
def test_french_normalisation_drops_articles_elisions_and_punctuation():
    assert normalize_answer("L'agence de presse RT !", "fr") == "agence presse rt"
    assert normalize_answer("Les  sanctions, des Occidentaux", "fr") == "sanctions occidentaux"
    assert normalize_answer("d’Extrême-Orient", "fr") == "extrêmeorient"  # accents kept, as in SQuAD


def test_english_normalisation_drops_a_an_the_only():
    assert normalize_answer("The Kremlin, an hour and a half.", "en") == "kremlin hour and half"
    # French articles are words in English text: not dropped
    assert normalize_answer("la Paz", "en") == "la paz"


def test_exact_match():
    assert exact_match("le 21 janvier", ["21 janvier"], "fr") == 1.0
    assert exact_match("The CNN.", ["CNN"], "en") == 1.0
    assert exact_match("21 janvier 2025", ["21 janvier"], "fr") == 0.0
    assert exact_match("le 21 janvier", ["21 janvier"], "en") == 0.0  # 'le' is not an English article
    assert exact_match("2027", ["2023", "2027"], "fr") == 1.0  # best over the gold forms


def test_token_f1_hand_computed():
    # pred tokens [21, janvier, à, moscou], gold [21, janvier]: P = 2/4, R = 2/2, F1 = 2/3
    assert token_f1("le 21 janvier à Moscou", ["21 janvier"], "fr") == pytest.approx(2 / 3)
    assert token_f1("2027", ["2023"], "fr") == 0.0
    assert token_f1("", ["2023"], "fr") == 0.0
    # repeated tokens only count as often as the gold has them: pred [mutuel, mutuel], gold [respect, mutuel]
    assert token_f1("mutuel mutuel", ["respect mutuel"], "fr") == pytest.approx(0.5)


# ---- answer accuracy ----------------------------------------------------------------------------------------------
def test_accuracy_ignores_case_accents_and_punctuation():
    assert contains_answer("Il s'agit du gazoduc d'Extreme Orient.", ["gazoduc d'Extrême-Orient"])
    assert contains_answer("Environ 1,300 km de long", ["1 300 km"])
    assert contains_answer("Selon IOURI OUCHAKOV [1]", ["Ouchakov"])


def test_accuracy_requires_whole_words_and_the_right_form():
    assert not contains_answer("en 20270 peut-être", ["2027"])
    assert not contains_answer("Yuri Ushakov", ["Ouchakov"])
    assert not contains_answer("janvier 21", ["21 janvier"])
    assert not contains_answer("1300 km", ["1 300 km"])  # spacing of numbers is a different form: list both
    assert not contains_answer("anything", [""])  # an empty form matches nothing


def test_accuracy_requires_concise_answers():
    short = "La livraison doit débuter en 2027."
    assert answer_accurate(short, ["2027"])
    padded = "2027 " + " ".join(["mot"] * 50)  # 51 words
    assert not answer_accurate(padded, ["2027"])
    assert answer_accurate(" ".join(["mot"] * 49) + " 2027", ["2027"])  # exactly 50 words


# ---- retrieval ----------------------------------------------------------------------------------------------------
def test_ranking_metrics_hand_computed():
    rel = [False, True, False, True]
    assert hit_at_k(rel, 1) == 0.0 and hit_at_k(rel, 2) == 1.0
    assert mrr_at_k(rel, 10) == 0.5
    assert mrr_at_k(rel, 1) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert ndcg_at_k(rel, 10, n_relevant=2) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    # three relevant chunks exist in the index but only two were found: the ideal ranking has three
    assert ndcg_at_k(rel, 10, n_relevant=3) == pytest.approx(dcg / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert ndcg_at_k([True, False], 10, n_relevant=1) == 1.0
    assert ndcg_at_k([False, False], 10, n_relevant=1) == 0.0


def test_relevance_by_span_overlap_is_half_open_and_per_document():
    spans = [["a.txt", 200, 210]]
    assert not is_relevant("a.txt", 100, 200, ["a.txt"], spans)  # touches but does not overlap
    assert is_relevant("a.txt", 100, 201, ["a.txt"], spans)
    assert is_relevant("a.txt", 205, 206, ["a.txt"], spans)  # inside
    assert not is_relevant("b.txt", 100, 300, ["a.txt"], spans)  # same offsets, other doc
    # with spans, the gold doc alone is not enough; without spans it is
    assert not is_relevant("a.txt", 0, 50, ["a.txt"], spans)
    assert is_relevant("a.txt", 0, 50, ["a.txt"], [])
    assert not is_relevant("b.txt", 0, 50, ["a.txt"], [])


def test_retrieval_evaluator_skips_unanswerable_and_names_metrics_at_k():
    rows = [
        {"answerable": True, "relevance": [True, False], "n_relevant": 1},
        {"answerable": True, "relevance": [False, False, True], "n_relevant": 1},
        {"answerable": False, "relevance": [False], "n_relevant": 0},
    ]
    out = RetrievalEvaluator(ks=(1, 3), mrr_k=10, ndcg_k=10)(rows)
    assert set(out) == {"hit@1", "hit@3", "mrr@10", "ndcg@10"}
    assert out["hit@1"] == 0.5 and out["hit@3"] == 1.0
    assert out["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert RetrievalEvaluator()([])["hit@1"] is None  # nothing to judge: undefined, not 0 or 1


# ---- answers and abstention ---------------------------------------------------------------------------------------
def _row(answerable, abstained, answer="", answers=(), lang="fr"):
    return {"answerable": answerable, "abstained": abstained, "answer": answer, "answers": list(answers), "lang": lang}


def test_citation_markers_are_not_answer_words():
    from eval.metrics import strip_citations

    assert strip_citations("CNN [2].") == "CNN."
    assert strip_citations("Le 21 janvier [1, 3] et le 17 [2-4]") == "Le 21 janvier et le 17"
    assert strip_citations("en [2027]") == "en"  # a bracketed number is a marker, whatever its size
    assert strip_citations("la liste [a]") == "la liste [a]"
    row = {"answerable": True, "abstained": False, "answer": "CNN [2].", "answers": ["CNN"], "lang": "en"}
    assert AnswerEvaluator().score_row(row)["em"] == 1.0
    row["answer"] = "La chaîne CNN [2]."
    assert AnswerEvaluator().score_row(row)["em"] == 0.0


def test_answer_evaluator_scores_abstention_on_answerable_as_wrong():
    rows = [
        _row(True, False, "Le 21 janvier.", ["21 janvier"]),  # accurate, EM after normalisation
        _row(True, True, "Je ne sais pas : 21 janvier", ["21 janvier"]),  # abstained: zero even if the form appears
        _row(False, True, "Je ne sais pas."),  # right to abstain
        _row(False, False, "Environ 1000 euros."),  # invented an answer
    ]
    out = AnswerEvaluator()(rows)
    assert out["em"] == 0.5 and out["accuracy"] == 0.5
    assert out["correct"] == 0.5  # rows 1 and 3


def test_abstention_precision_recall_and_over_abstention():
    rows = [_row(False, True), _row(False, False), _row(True, True), _row(True, False), _row(True, False)]
    out = AbstentionEvaluator()(rows)
    assert out == {"abstain_precision": 0.5, "abstain_recall": 0.5, "over_abstention": pytest.approx(1 / 3)}
    never = AbstentionEvaluator()([_row(False, False), _row(True, False)])
    assert never["abstain_precision"] is None and never["abstain_recall"] == 0.0


# ---- citations ----------------------------------------------------------------------------------------------------
def test_citation_metrics_hand_computed():
    text = "Moscou et Pékin ont signé un accord en février 2023."
    start = text.index("février 2023")
    good = {"doc_id": "a.txt", "start": start, "end": start + 12, "quote": "février 2023"}
    off = {"doc_id": "a.txt", "start": 0, "end": 6, "quote": "Moscou"}
    wrong_quote = {"doc_id": "a.txt", "start": 0, "end": 6, "quote": "Moscow"}
    spans = [["a.txt", start, start + 12]]
    rows = [
        {"answerable": True, "citations": [good, off], "gold_docs": ["a.txt"], "gold_spans": spans},  # precision 1/2
        {"answerable": True, "citations": [wrong_quote], "gold_docs": ["a.txt"], "gold_spans": spans},  # 0/1
        {"answerable": True, "citations": [], "gold_docs": ["a.txt"], "gold_spans": spans},  # no citation: a miss
        {"answerable": False, "citations": [good], "gold_docs": [], "gold_spans": []},  # only counted for quotes
    ]
    out = CitationEvaluator({"a.txt": text})(rows)
    assert out["citation_precision"] == pytest.approx(0.25)  # mean(1/2, 0/1)
    assert out["citation_hit"] == pytest.approx(1 / 3)
    assert out["quote_exact"] == pytest.approx(3 / 4)
    # an unknown document or an out-of-range span never counts as an exact quote
    assert CitationEvaluator({})([{"answerable": False, "citations": [good]}])["quote_exact"] == 0.0
    bad_range = {**good, "end": len(text) + 5}
    assert CitationEvaluator({"a.txt": text})([{"answerable": False, "citations": [bad_range]}])["quote_exact"] == 0.0


# ---- language, latency, grouping ----------------------------------------------------------------------------------
def test_language_match_skips_answers_too_short_to_judge():
    detect = lambda text: "en" if " the " in f" {text} " else "fr"  # noqa: E731
    rows = [
        {"lang": "fr", "answer": "2027"},  # skipped: no words
        {"lang": "en", "answer": "CNN"},  # skipped: one word
        {"lang": "fr", "answer": "Le gazoduc sera prêt en 2027."},
        {"lang": "fr", "answer": "the pipeline starts in 2027"},  # wrong language
    ]
    out = LanguageEvaluator(detect)(rows)
    assert out == {"lang_match": 0.5, "lang_judged": 2}


def test_default_language_detector_on_clear_sentences():
    out = LanguageEvaluator()([{"lang": "en", "answer": "The talks took place on January 21."},
                               {"lang": "fr", "answer": "La discussion a eu lieu le 21 janvier."}])
    assert out["lang_match"] == 1.0


def test_percentiles_and_latency_evaluator():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([], 50) is None
    rows = [{"timings_ms": {"retrieve": r, "generate": 100 * r, "total": 101 * r}, "tokens_per_second": t}
            for r, t in [(1, 40.0), (2, 50.0), (3, None)]]
    out = LatencyEvaluator()(rows)
    assert out["latency_retrieve_ms@p50"] == 2 and out["latency_total_ms@p95"] == pytest.approx(101 * 2.9)
    assert out["gen_tokens_per_s@p50"] == 45.0  # rows without a speed are left out
    assert "gen_tokens_per_s@p50" not in LatencyEvaluator(("retrieve",))(rows)


def test_breakdown_and_sequential_evaluator():
    rows = [dict(_row(True, False, "2027", ["2027"]), type="date"),
            dict(_row(True, False, "2023", ["2027"], lang="en"), type="date"),
            dict(_row(False, True), type="unanswerable")]
    parts = breakdown(rows, SequentialEvaluator([AnswerEvaluator()]))
    assert set(parts) == {"lang=fr", "lang=en", "type=date", "type=unanswerable"}
    assert parts["lang=en"]["accuracy"] == 0.0 and parts["lang=fr"]["n"] == 2
    assert parts["type=date"]["accuracy"] == 0.5
    assert parts["type=unanswerable"]["accuracy"] is None and parts["type=unanswerable"]["correct"] == 1.0


# ---- comparison gate ----------------------------------------------------------------------------------------------
def _report(**metrics):
    return {"config": {"run": "retrieval", "n_items": 10, "gold_sha256": "x"}, "metrics": metrics}


def test_compare_fails_only_beyond_the_allowed_drop():
    before, now = _report(**{"hybrid/hit@5": 0.80}), _report(**{"hybrid/hit@5": 0.77})
    assert compare(now, before, "prev.json", "hit@5", 0.05)["failed"] is False
    result = compare(now, before, "prev.json", "hybrid/hit@5", 0.02)
    assert result["failed"] is True and result["worsening"] == pytest.approx(0.03)
    assert compare(_report(**{"hybrid/hit@5": 0.9}), before, "p", "hit@5", 0.0)["failed"] is False


def test_compare_treats_rising_latency_as_a_drop():
    before = _report(**{"latency_total_ms@p50": 1000.0})
    assert compare(_report(**{"latency_total_ms@p50": 1500.0}), before, "p", "latency_total_ms@p50", 100)["failed"]
    assert not compare(_report(**{"latency_total_ms@p50": 500.0}), before, "p", "latency_total_ms@p50", 100)["failed"]


def test_metric_names_resolve_by_suffix_unless_ambiguous():
    metrics = {"bm25/hit@5": 0.8, "hybrid/hit@5": 0.9, "dense/mrr@10": 0.5}
    assert resolve_metric("mrr@10", metrics) == "dense/mrr@10"
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_metric("hit@5", metrics)
    with pytest.raises(ValueError, match="not in this run"):
        resolve_metric("f1", metrics)
