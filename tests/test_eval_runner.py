"""The runner end to end on a fake pipeline: rows, relevance, scoring and reports, with no model loaded."""
import json

import pytest

from eval import report as reporting
from eval.dataset import load_gold, resolve
from eval.runner import RunOptions, run_generation, run_retrieval

from rag.pipeline import QuestionError
from rag.schema import Answer, Citation, Passage, Timings, Usage

TEXT = "Le 21 janvier, Poutine et Xi ont parlé. Le gazoduc devrait débuter en 2027. Le prix n'est pas connu."
DOC = "a.txt"
SENTENCES = [(0, 39), (40, 75), (76, len(TEXT))]


def _passage(n, span):
    return Passage(n=n, doc_id=DOC, chunk_id=f"c{span[0]}", start=span[0], end=span[1], text=TEXT[span[0]:span[1]], score=1.0 / n)


class FakeStore:
    def text_of(self, doc_id):
        return TEXT


class FakePipeline:
    """Ranks sentence 0 first for 'janvier' questions and sentence 1 first otherwise; answers from a table."""

    def __init__(self, answers):
        self.answers, self.store, self.warmed = answers, FakeStore(), []

    def warm_up(self, generator=True):
        self.warmed.append(generator)

    def retrieve(self, question, top_k=None, mode="hybrid"):
        order = [0, 1, 2] if "janvier" in question or mode == "bm25" else [1, 0, 2]
        return [_passage(n, SENTENCES[i]) for n, i in enumerate(order[:top_k], start=1)]

    def ask(self, question, top_k=None):
        text, abstained, cite = self.answers[question]
        if text is None:
            raise QuestionError("refused")
        citations = [Citation(n=1, doc_id=DOC, chunk_id="c", start=s, end=e, quote=TEXT[s:e]) for s, e in cite]
        return Answer(question=question, answer=text, abstained=abstained, citations=citations,
                      passages=self.retrieve(question, 2), timings_ms=Timings(retrieve=5, generate=95, total=100),
                      usage=Usage(completion_tokens=10, tokens_per_second=40.0))


@pytest.fixture
def items(tmp_path):
    rows = [
        {"id": "q1", "question": "Quel jour en janvier ont-ils parlé ?", "answers": ["21 janvier"], "evidence": ["Le 21 janvier"], "lang": "fr", "type": "date"},
        {"id": "q2", "question": "When does the pipeline start?", "answers": ["2027"], "evidence": ["débuter en 2027"], "lang": "en", "type": "date"},
        {"id": "q3", "question": "Quel est le prix ?", "answerable": False, "lang": "fr"},
        {"id": "q4", "question": "Question refusée ?", "answers": ["x"], "doc_id": "a", "lang": "fr", "type": "other"},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return resolve(load_gold(path), {DOC: TEXT})


def test_retrieval_run_scores_each_mode(items):
    pipeline = FakePipeline({})
    metrics, parts, rows = run_retrieval(pipeline, items, RunOptions(modes=("bm25", "hybrid"), k=3, progress=False))
    assert pipeline.warmed == [False]  # no generator loaded for retrieval-only runs
    assert len(rows) == 8
    # bm25 ranks sentence 0 first: q1 hit@1, q2 (evidence in sentence 1) at rank 2, q4 (whole doc) at rank 1
    assert metrics["bm25/hit@1"] == pytest.approx(2 / 3) and metrics["bm25/mrr@3"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert metrics["hybrid/hit@1"] == pytest.approx(1.0)
    assert parts["bm25"]["lang=en"]["hit@1"] == 0.0 and parts["bm25"]["type=unanswerable"]["hit@1"] is None


def test_generation_run_scores_answers_citations_and_errors(items, tmp_path):
    answers = {
        "Quel jour en janvier ont-ils parlé ?": ("Le 21 janvier [1].", False, [(0, 13)]),
        "When does the pipeline start?": ("En 2027, selon le texte [1].", False, [(76, 90)]),  # right form, wrong citation
        "Quel est le prix ?": ("Je ne sais pas.", True, []),
        "Question refusée ?": (None, False, []),
    }
    pipeline = FakePipeline(answers)
    metrics, parts, rows = run_generation(pipeline, items, RunOptions(k=3, progress=False), {DOC: TEXT})
    assert metrics["errors"] == 1 and rows[3]["error"] == "refused"
    assert metrics["accuracy"] == pytest.approx(2 / 3)  # q1, q2 right; q4 refused
    assert metrics["correct"] == pytest.approx(3 / 4)  # plus q3 abstained
    assert metrics["abstain_recall"] == 1.0 and metrics["abstain_precision"] == 1.0
    assert metrics["citation_hit"] == pytest.approx(1 / 3) and metrics["quote_exact"] == 1.0
    assert metrics["context_hit"] == pytest.approx(1.0)  # q4's whole-doc relevance counts any passage of a.txt
    assert metrics["latency_total_ms@p50"] == 100 and metrics["gen_tokens_per_s@p50"] == 40.0
    assert parts["lang=en"]["correct"] == 1.0 and parts["type=unanswerable"]["correct"] == 1.0

    report = {"config": {"run": "generation", "gold": "g", "n_items": 4, "docs": "d", "index_dir": "i"},
              "models": {"generator": "fake"}, "timing": {"wall_s": 1.0, "index_s": 0.0},
              "metrics": metrics, "breakdown": parts, "rows": rows}
    md = reporting.markdown(report)
    assert "## Misses (1)" in md and "Question refusée" in md
    assert reporting.write_png(report, tmp_path).stat().st_size > 10_000


def test_merge_rescores_slices_and_refuses_mixed_settings(items, tmp_path):
    from eval.dataset import DatasetError
    from eval.merge import merge_reports

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / DOC).write_text(TEXT, encoding="utf-8")
    answers = {"Quel jour en janvier ont-ils parlé ?": ("Le 21 janvier [1].", False, [(0, 13)]),
               "When does the pipeline start?": ("Je ne sais pas.", True, []),
               "Quel est le prix ?": ("Je ne sais pas.", True, []), "Question refusée ?": ("x", False, [])}
    paths = []
    for i, part in enumerate((items[:2], items[2:])):
        metrics, parts, rows = run_generation(FakePipeline(answers), part, RunOptions(k=3, progress=False), {DOC: TEXT})
        report = {"config": {"run": "generation", "gold_sha256": "g", "docs": str(docs), "modes": ["hybrid"], "k": 3,
                             "top_k": None, "n_items": len(part)},
                  "models": {"top_k": 4, "code_sha256": f"code{i}"}, "environment": {}, "rows": rows,
                  "timing": {"index_s": 1.0, "eval_s": 2.0, "wall_s": 3.0}, "metrics": metrics, "breakdown": parts}
        paths.append(tmp_path / f"r{i}.json")
        paths[-1].write_text(json.dumps(report), encoding="utf-8")
    merged = merge_reports(paths)
    assert merged["config"]["n_items"] == 4 and merged["timing"]["eval_s"] == 4.0
    assert merged["metrics"]["correct"] == pytest.approx(3 / 4)  # q1 right, q2 over-abstained, q3 abstained, q4 right
    assert merged["metrics"]["over_abstention"] == pytest.approx(1 / 3)
    assert merged["models"]["code_sha256"] == ["code0", "code1"] and "2 versions" in merged["config"]["warnings"][0]
    with pytest.raises(DatasetError, match="appears in more than one"):
        merge_reports([paths[0], paths[0]])
    other = json.loads(paths[1].read_text())
    other["models"]["top_k"] = 3
    paths[1].write_text(json.dumps(other), encoding="utf-8")
    with pytest.raises(DatasetError, match="settings differ"):
        merge_reports(paths)
