"""llama.cpp prompt-state reuse (rag/kvcache.py) on the bundled 1.5B, primed by the session pipeline."""
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
