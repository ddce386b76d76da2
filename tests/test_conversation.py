"""rag.conversation.session, the one engine of `rag chat`, POST /v1/ask's history and /v1/chat/completions: the previous
answer's cited sentence is read again by a follow-up, recovered from the index for clients that send text only."""
from rag.conversation.session import Conversation, PriorTurn, recover_citations, standalone_history, with_cited
from rag.schema import Citation, Passage

DOC = "000_c35498bb09d10278.txt"


def _passage(n, start, text):
    return Passage(n=n, doc_id=DOC, chunk_id="c", start=start, end=start + len(text), text=text, score=1.0)


def test_the_cited_sentence_comes_first_once_and_passages_are_renumbered():
    passages = [_passage(1, 100, "Deux."), _passage(2, 200, "Trois.")]
    cited = Citation(n=4, doc_id=DOC, chunk_id="c", start=0, end=4, quote="Une.")
    out = with_cited([cited])(passages)
    assert [(p.n, p.text) for p in out] == [(1, "Une."), (2, "Deux."), (3, "Trois.")]
    again = Citation(n=1, doc_id=DOC, chunk_id="c", start=100, end=105, quote="Deux.")
    assert [p.text for p in with_cited([again])(passages)] == ["Deux.", "Trois."]  # already read: not twice


def test_text_only_history_is_resolved_turn_by_turn_without_the_model():
    turns = standalone_history([("Quel gazoduc Poutine et Xi ont-ils évoqué ?", "Le gazoduc d'Extrême-Orient [1]."),
                                ("Et quand doit-il débuter ?", "2027 [2].")])
    assert [t.question for t in turns] == ["Quel gazoduc Poutine et Xi ont-ils évoqué ?",
                                           "Quand le gazoduc d'Extrême-Orient doit-il débuter ?"]


def test_the_cited_sentence_of_a_text_only_answer_is_found_in_the_index(pipeline, seed_text):
    turn = PriorTurn("Combien de temps a duré la visioconférence ?", "Plus d'une heure et demie [1].")
    (cited,) = recover_citations(pipeline, turn)
    assert "heure et demie" in cited.quote and seed_text[cited.start:cited.end] == cited.quote
    assert recover_citations(pipeline, PriorTurn("Quel est le prix du gaz ?", "")) == ()


def test_a_follow_up_reads_the_sentence_the_previous_answer_cited(pipeline, seed_text):
    conv = Conversation(pipeline)
    first = conv.ask("Combien de temps a duré la visioconférence ?")
    follow = conv.ask("Et qui l'a rapporté ?")
    assert follow.rewrite.rewritten and follow.rewrite.model_calls <= 1
    assert follow.answer.rewritten_question == follow.rewrite.standalone
    if first.answer.citations:
        cited = first.answer.citations[0]
        assert (cited.start, cited.quote) in [(p.start, p.text) for p in follow.answer.passages]  # read again
    for c in follow.answer.citations:
        assert seed_text[c.start:c.end] == c.quote
    if not follow.answer.abstained:
        assert "Ouchakov" in follow.answer.answer
