"""eval/profile.py on the bundled 1.5B: every stage of a question is timed and set against its model floor."""
import pytest

from eval.dataset import GoldItem
from eval.profile import ModelFloor, in_passes, print_summary, profile_question, summarise
from rag.models.assets import resolve_gguf
from rag.models.base import default_threads


@pytest.fixture(scope="module")
def floor(pipeline):
    settings = pipeline.settings
    return ModelFloor(resolve_gguf(settings.generator, settings.cache_dir), settings.n_threads or default_threads(), 1024)


def _item(question: str, lang: str) -> GoldItem:
    return GoldItem(id=f"q-{lang}", question=question, lang=lang)


def test_a_french_question_is_timed_stage_by_stage_against_its_floor(pipeline, floor, capsys):
    row = profile_question(pipeline, _item("Combien de temps a duré la visioconférence ?", "fr"), floor)
    for name in ("retrieve.embed_query", "retrieve.bm25", "retrieve.fusion", "evidence", "generate.first_token",
                 "verify", "serialise"):
        assert name in row.stages, name
    # the service resumed the primed instructions and examples: only the passages and the question were read
    assert 0 < row.cached_tokens < row.prompt_tokens and row.completion_tokens > 0
    assert row.floor_prefill_ms > 0 and row.floor_decode_ms >= 0
    assert row.ratio and row.ratio > 0.5  # the same work as the floor at least, give or take the noise
    assert "generate.state_save" not in row.stages  # a question's own state is not saved
    summary = summarise([row])
    print_summary(summary)
    assert summary["fr"]["n"] == 1 and "| ratio@p50 |" in capsys.readouterr().out


def test_an_english_question_shows_its_extra_model_calls(pipeline, floor):
    row = profile_question(pipeline, _item("How long did the video call last?", "en"), floor)
    assert "call.translate_question" in row.stages


def test_an_unknown_cross_lingual_mode_is_one_line_and_exit_2(capsys):
    from eval.profile import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--cross-lingual", "pivot,bogus"])
    assert exit_info.value.code == 2
    assert "unknown --cross-lingual mode 'bogus'" in capsys.readouterr().err


def test_repeats_run_in_passes_so_no_question_follows_itself():
    asked, reports = [], []
    runs = in_passes(["a", "b", "c"], 2, lambda q: asked.append(q) or f"{q}{asked.count(q)}",
                     lambda done, total: reports.append((done, total)))
    assert asked == ["a", "b", "c", "a", "b", "c"]
    assert runs == [["a1", "a2"], ["b1", "b2"], ["c1", "c2"]]
    assert reports[0] == (1, 6) and reports[-1] == (6, 6)
