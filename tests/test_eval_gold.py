"""The seed gold set and the gold-set loader: coverage, verbatim evidence, readable errors for bad input."""
import json
from collections import Counter
from pathlib import Path

import pytest

from eval import cli
from eval.dataset import DatasetError, load_docs, load_gold, resolve, sample

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold" / "seed_gold.jsonl"
TEST_SPLIT = ROOT / "eval" / "gold" / "seed_test.jsonl"
ARTICLE = ROOT / "seeds" / "000_c35498bb09d10278.txt"


def _items(path):
    return resolve(load_gold(path), load_docs(ROOT / "seeds"))


@pytest.fixture(scope="module", params=[GOLD, TEST_SPLIT], ids=["dev", "test"])
def seed_items(request):
    return _items(request.param)


def test_seed_gold_covers_what_the_issue_asks():
    items = _items(GOLD)
    langs = Counter(i.lang for i in items)
    unanswerable = [i for i in items if not i.answerable]
    assert len(items) >= 60 and langs["fr"] >= 35 and langs["en"] >= 15
    assert len(unanswerable) >= 10 and {i.lang for i in unanswerable} == {"fr", "en"}
    assert sum(len(i.evidence) >= 2 for i in items) >= 4  # answers spanning two sentences
    assert all(i.type for i in items)


def test_seed_test_split_covers_what_the_issue_asks():
    """The frozen test split: new questions, with the kinds of question the dev split missed."""
    items = _items(TEST_SPLIT)
    langs = Counter(i.lang for i in items)
    assert len(items) >= 60 and langs["en"] >= 20
    assert sum(not i.answerable for i in items) >= 15
    assert sum(i.type == "yesno" and i.answers[0] in ("non", "no") for i in items) >= 3
    title, lead = ARTICLE.read_text(encoding="utf-8").splitlines()[:2]
    assert any(e in title for i in items for e in i.evidence)
    assert any(e in lead for i in items for e in i.evidence)
    assert sum(i.type == "date" and any(ch.isdigit() for ch in i.answers[0]) for i in items) >= 5
    dev_questions = {i.question.lower() for i in _items(GOLD)}
    assert not any(i.question.lower() in dev_questions for i in items)


def test_every_evidence_string_occurs_verbatim_in_the_article(seed_items):
    text = ARTICLE.read_text(encoding="utf-8")
    for item in seed_items:
        if item.answerable:
            assert item.answers and item.evidence, item.id
        for evidence in item.evidence:
            assert evidence in text, (item.id, evidence)
        for doc_id, start, end in item.gold_spans:
            assert text[start:end] in item.evidence


def test_questions_paraphrase_rather_than_copy(seed_items):
    """No question shares a run of 8 words with the article (copied wording makes retrieval look better than it is)."""
    words = ARTICLE.read_text(encoding="utf-8").lower().split()
    grams = {" ".join(words[i:i + 8]) for i in range(len(words) - 7)}
    for item in seed_items:
        q = item.question.lower().split()
        assert not any(" ".join(q[i:i + 8]) in grams for i in range(len(q) - 7)), item.id


def test_english_items_have_english_answer_forms(seed_items):
    french_only = {"janvier", "février", "heures", "kilomètres", "troupes", "européennes", "négocier"}
    for item in seed_items:
        if item.lang == "en":
            assert not any(set(form.lower().split()) & french_only for form in item.answers), item.id


def test_unanswerable_items_carry_no_answers(seed_items):
    for item in seed_items:
        if not item.answerable:
            assert not item.answers and not item.evidence and not item.gold_spans


def _write(tmp_path, lines, name="gold.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_rejects_malformed_lines_with_their_line_number(tmp_path):
    path = _write(tmp_path, ['{"id": 1, "question": "Quand ?"}', '{"id": 2, "question": '])
    with pytest.raises(DatasetError, match=r"gold.jsonl:2: not valid JSON"):
        load_gold(path)
    with pytest.raises(DatasetError, match="duplicate id"):
        load_gold(_write(tmp_path, ['{"id": 1, "question": "a"}', '{"id": 1, "question": "b"}']))
    with pytest.raises(DatasetError, match="needs an 'id'"):
        load_gold(_write(tmp_path, ['{"question": "a"}']))
    with pytest.raises(DatasetError, match="cannot have answers"):
        load_gold(_write(tmp_path, ['{"id": 1, "question": "a", "answers": ["x"], "answerable": false}']))
    with pytest.raises(DatasetError, match="no such gold file"):
        load_gold(tmp_path / "missing.jsonl")


def test_loader_defaults_and_resolution(tmp_path):
    docs = {"par_01.txt": "Le gazoduc devrait débuter en 2027.", "par_02.txt": "Autre texte."}
    items = load_gold(_write(tmp_path, [
        json.dumps({"id": "a", "question": "Quand le gazoduc doit-il débuter ?", "answers": ["2027"], "doc_id": "par_01"}),
        json.dumps({"id": "b", "question": "When does it start?", "evidence": ["débuter en 2027"]}),
        json.dumps({"id": "c", "question": "Quel est le prix ?", "answerable": False}),
    ]))
    resolve(items, docs)
    a, b, c = items
    assert a.gold_docs == ["par_01.txt"] and a.gold_spans == [] and a.lang == "fr" and a.answerable
    assert b.gold_docs == ["par_01.txt"] and b.gold_spans == [("par_01.txt", 19, 34)] and b.lang == "en"
    assert not c.answerable and c.type == "unanswerable"
    bad = load_gold(_write(tmp_path, [json.dumps({"id": "x", "question": "q", "evidence": ["débuter en 2028"]})]))
    with pytest.raises(DatasetError, match="does not occur verbatim"):
        resolve(bad, docs)
    missing = load_gold(_write(tmp_path, [json.dumps({"id": "x", "question": "q", "doc_id": "par_99"})]))
    with pytest.raises(DatasetError, match="not in the docs folder"):
        resolve(missing, docs)


def test_sample_is_reproducible_and_keeps_both_kinds(seed_items):
    first, again, other = sample(seed_items, 20, 7), sample(seed_items, 20, 7), sample(seed_items, 20, 8)
    assert [i.id for i in first] == [i.id for i in again]
    assert [i.id for i in first] != [i.id for i in other]
    assert len(first) == 20 and len({i.id for i in first}) == 20
    kinds = Counter((i.lang, i.answerable) for i in first)
    assert all(kinds[k] >= 1 for k in [("fr", True), ("fr", False), ("en", True), ("en", False)])


def _run_cli(*argv):
    return cli.main(list(argv))


def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    bad = _write(tmp_path, ['{"id": 1, "question": "ok"}', "not json"])
    assert _run_cli("--gold", str(bad), "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "gold.jsonl:2" in err
    assert _run_cli("--gold", str(tmp_path / "nope.jsonl")) == 2
    assert _run_cli("--docs", str(tmp_path / "no-docs")) == 2
    assert _run_cli("--modes", "bm25,sparse") == 2
    assert _run_cli("--compare", str(tmp_path / "missing.json")) == 2
    assert _run_cli("--fail-metric", "hit@5") == 2  # needs --compare
    assert _run_cli("--sample", "0") == 2
    capsys.readouterr()


def test_yes_no_dev_set_loads_with_verbatim_evidence_and_both_answers():
    items = resolve(load_gold(ROOT / "eval" / "gold" / "yes_no_dev.jsonl"), load_docs(ROOT / "seeds"))
    text = ARTICLE.read_text(encoding="utf-8")
    assert all(item.gold_spans and all(e in text for e in item.evidence) for item in items)
    answers = Counter(item.answers[0] for item in items)
    assert answers["oui"] + answers["yes"] >= 4 and answers["non"] + answers["no"] >= 4


def test_english_piaf_splits_are_disjoint_and_hold_answerable_english_items():
    """eval/gold/piaf_en_{dev,test}.jsonl: English questions on PIAF's French paragraphs (the test split is frozen)."""
    dev, test = (load_gold(ROOT / "eval" / "gold" / f"piaf_en_{name}.jsonl") for name in ("dev", "test"))
    assert len(dev) >= 50 and len(test) >= 50
    assert not {i.id for i in dev} & {i.id for i in test}
    assert not {i.question for i in dev} & {i.question for i in test}
    for item in dev + test:
        assert item.lang == "en" and item.answerable and item.answers and item.doc_id.startswith(item.article_id)
