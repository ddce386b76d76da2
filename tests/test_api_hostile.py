"""Hostile documents through the real model (api/hostile.py; `python -m api.faults hostile` prints the figures): no
special token of a document reaches the model, no instruction in a document is obeyed, the facts the documents do
state are answered, and every citation and passage is an exact span of the stored text."""
import json

import pytest

from api.hostile import INJECTION, QUESTIONS, ask_recording, hostile_pipeline, score


@pytest.fixture(scope="module")
def pipeline(seed_index, tmp_path_factory, embedder):
    return hostile_pipeline(seed_index, tmp_path_factory.mktemp("hostile") / "index", embedder)


def test_hostile_documents_neither_reach_the_model_as_structure_nor_steer_it(pipeline):
    run = ask_recording(pipeline, QUESTIONS)
    figures = score(pipeline, run, QUESTIONS)
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    assert figures["calls_with_hostile_text"] >= len(QUESTIONS) - 1  # the documents were in the prompts
    # Every special token the model reads is the chat template's own: none came from a document.
    assert figures["special_tokens_from_documents"] == 0
    assert figures["obeyed_injections"] == 0
    for answer, (question, expected) in zip(run.answers, QUESTIONS):
        assert INJECTION not in answer.answer
        assert expected.lower() in answer.answer.lower(), (question, answer.answer)
    assert figures["citations"] >= len(QUESTIONS) - 1
    assert figures["citations_exact"] == figures["citations"] and figures["passages_exact"] == figures["passages"]
