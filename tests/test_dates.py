"""rag.conversation.dates: "le lendemain", "la veille", "the next day" counted from the previous answer's date."""
import pytest

from rag.conversation.dates import answer_day, with_relative_day
from rag.conversation.rewrite import Rewriter


@pytest.mark.parametrize("question, answer, expected", [
    ("Et que s'est-il passé le lendemain ?", "19 janvier [3]", "Que s'est-il passé le 20 janvier ?"),
    ("Qu'a fait Poutine la veille ?", "Le 1er mars [1].", "Qu'a fait Poutine le 28 février ?"),
    ("What happened the day before?", "January 17 [1]", "What happened on January 16?"),
    ("And on the next day, who spoke?", "31 December [2]", "On January 1, who spoke?"),
    # what it counts from is named, or the answer holds no day: left to the other rules
    ("Qu'a fait Poutine la veille de l'investiture ?", "19 janvier [1]", None),
    ("What happened the day after the election?", "January 17 [1]", None),
    ("Que s'est-il passé le lendemain ?", "2027 [1]", None),
    ("Que s'est-il passé le 3 mars ?", "19 janvier [1]", None),
])
def test_a_relative_day_is_counted_from_the_previous_answer(question, answer, expected):
    assert with_relative_day(question, answer) == expected


def test_dates_are_read_in_both_orders_and_impossible_ones_ignored():
    assert answer_day("le 21 janvier") == (1, 21)
    assert answer_day("On February 3rd") == (2, 3)
    assert answer_day("31 février") is None


def test_the_rewriter_writes_the_day_in_and_needs_no_other_rewrite():
    rewrite = Rewriter(None).rewrite("Et que s'est-il passé le lendemain ?",
                                     "Quel jour CNN a-t-elle cité des sources privées ?", "19 janvier [3]")
    assert rewrite.standalone == "Que s'est-il passé le 20 janvier ?"
    assert rewrite.source == "answer" and rewrite.model_calls == 0
    # a bare "Et le lendemain ?" has nothing else to ask: the usual rules take it
    assert Rewriter(None).rewrite("Et le lendemain ?", "Quel jour a eu lieu la réunion ?",
                                  "Le 1er mars [1]").standalone != "Le 2 mars ?"
