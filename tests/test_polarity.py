"""Yes/no answers judged on their cited sentence: negation cue, closest clause, the real model's verdict."""
import pytest

from rag.checks.polarity import closest_clause, is_yes_no_question, judge_yes_no, negated, polarity_messages, translate_yes_no

CONTACT = ("L'assistant présidentiel russe a également déclaré que Moscou n'avait reçu aucun contact de la Maison "
           "Blanche concernant la planification d'un appel entre les dirigeants des deux pays.")
DETAILS = ("De son côté, M. Xi Jinping a fourni à M. Poutine des détails sur sa récente conversation avec M. Trump, "
           "qui a eu lieu le 17 janvier et n’était pas liée à l’investiture présidentielle.")


@pytest.mark.parametrize("text, expected", [
    ("Moscou n'avait reçu aucun contact", True),
    ("elle n’était pas liée à l’investiture", True),
    ("The call did not take place", True),
    ("They haven't met", True),
    ("Moscou a reçu un appel", False),
    ("malgré les sanctions occidentales sans précédent", False),  # "sans" qualifies a noun here, not the verb
    ("Il a duré plus d'une heure", False),
])
def test_negation_cue(text, expected):
    assert negated(text) is expected


def test_closest_clause_scopes_the_negation_to_the_question():
    asked = "Xi a-t-il fourni des détails à Poutine ?"
    assert not negated(closest_clause(asked, DETAILS))  # the negated clause is about the investiture
    assert negated(closest_clause("La conversation était-elle liée à l'investiture ?", DETAILS))


def test_prompt_keeps_proper_nouns_and_lowercases_articles():
    assert "ce texte, Moscou a-t-il" in polarity_messages("Moscou a-t-il reçu un appel ?", CONTACT, "fr")[0]["content"]
    assert "ce texte, la Maison" in polarity_messages("La Maison Blanche a-t-elle appelé ?", CONTACT, "fr")[0]["content"]
    assert polarity_messages("Did it rain?", "It rained.", "en")[0]["content"].endswith("did it rain? Answer Yes or No.")


def test_pivot_yes_no_answers_translate_without_a_model():
    assert translate_yes_no("Oui [2].", "fr", "en") == "Yes [2]."
    assert translate_yes_no("Non [1][3].", "fr", "en") == "No [1][3]."


def test_negated_sentence_gives_no(pipeline):
    assert judge_yes_no(pipeline.generator, "Moscou a-t-il reçu un contact de la Maison Blanche ?", CONTACT, "fr") == "Non"


def test_model_judges_the_sentence(pipeline):
    generator = pipeline.generator
    sentence = "MM. Poutine et Xi ont discuté du gazoduc d'Extrême-Orient, dont les travaux progressent comme prévu."
    assert judge_yes_no(generator, "Poutine et Xi ont-ils discuté du gazoduc ?", sentence, "fr") == "Oui"
    assert judge_yes_no(generator, "Les travaux du gazoduc sont-ils en retard ?", sentence, "fr") == "Non"


@pytest.mark.parametrize("question, expected", [
    ("L'échange avait-il un rapport avec l'investiture ?", True),
    ("Moscou a-t-il reçu un contact ?", True),
    ("Est-ce que Paris est loin ?", True),
    ("Did Moscow hear from the White House?", True),
    ("Moscou a-t-il reçu l'appel que CNN annonçait ?", True),
    ("À quelle date ont-ils parlé ?", False),
    ("Qui a-t-il rencontré ?", False),
    ("Quel jour ont-ils parlé ?", False),
    ("Who is Putin's adviser?", False),
    ("Combien de temps a duré l'échange ?", False),
    ("Le long de quoi la ligne serait-elle tracée ?", False),
    ("Malgré quoi les échanges continuent-ils de croître ?", False),
    ("Hormis la guerre, quel sujet ont-ils abordé ?", False),
    ("Dans le cadre de quelle organisation les flux doivent-ils augmenter ?", False),
    ("Qu'est-ce que la tour ?", False),
    ("Qu'appelle-t-on la diversion de Saint Leger ?", False),
])
def test_yes_no_questions(question, expected):
    assert is_yes_no_question(question) is expected
