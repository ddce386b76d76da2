"""llama.cpp prompt-state reuse (rag/models/kvcache.py) on the bundled 1.5B, primed by the session pipeline."""
from rag.prompt import build_messages

QUESTION = "Combien de temps a duré l'appel vidéo du Nouvel An ?"


def test_questions_resume_exactly_where_the_fixed_instructions_end(pipeline):
    llm = pipeline.generator._llm
    fixed = pipeline.generator.fixed_prefix(build_messages("?", [], "fr"))
    assert len(fixed) > 300 and tuple(fixed) in llm.fixed_prefixes  # primed by warm_up
    pipeline.ask(QUESTION)
    assert llm.input_ids[: len(fixed)].tolist() == fixed
    assert llm.anchor == len(fixed)  # blocks counted from the end of the instructions, not from a multiple of 64
    assert (llm.canonical_end - llm.anchor) % llm.n_batch == 0


def test_block_boundaries_follow_the_fixed_prefix(pipeline):
    llm = pipeline.generator._llm
    assert llm._boundaries(0, 130) == [0, 64, 128]
    assert llm._boundaries(100, 300) == [0, 64, 100, 164, 228, 292]
    assert llm._boundaries(100, 70) == [0, 64]  # a prompt shorter than the prefix keeps plain blocks


def test_primed_states_saved_to_disk_answer_exactly_as_freshly_primed_ones(pipeline, tmp_path, monkeypatch):
    from rag.models.generate import LlamaCppGenerator

    monkeypatch.setattr(LlamaCppGenerator, "_state_dir", property(lambda self: tmp_path))
    priming = build_messages("?", [], "fr")
    messages = build_messages(QUESTION, pipeline.evidence(QUESTION, 3), "fr")

    fresh = LlamaCppGenerator(pipeline.settings)
    fresh.prime(priming)
    saved = list(tmp_path.glob("*.npz"))
    assert len(saved) == 1
    expected = fresh.generate(messages, 16)
    expected_logprob = fresh.first_token_logprob(expected.text)
    del fresh

    loaded = LlamaCppGenerator(pipeline.settings)
    evaluated = []
    monkeypatch.setattr(loaded, "stream", lambda *a, **k: evaluated.append(a) or iter(()))
    loaded.prime(priming)
    assert evaluated == [] and list(tmp_path.glob("*.npz")) == saved  # loaded from the file, nothing evaluated
    monkeypatch.undo()
    answer = loaded.generate(messages, 16)
    assert answer.text == expected.text and answer.text
    assert answer.prompt_tokens == expected.prompt_tokens and loaded._last.cached_tokens > 300
    assert loaded.first_token_logprob(answer.text) == expected_logprob


def test_an_unreadable_or_missing_state_file_reads_as_none(tmp_path):
    from rag.models.kvcache import read_state

    (tmp_path / "broken.npz").write_bytes(b"not a state")
    assert read_state(tmp_path / "broken.npz") is None
    assert read_state(tmp_path / "missing.npz") is None
