import pytest

from rag.checks.cite import verify
from rag.schema import Passage
from rag.checks.wording import source_span, source_wording


@pytest.mark.parametrize("claim, sentence, question, expected", [
    # spelled in the source: its word, and the noun it counts
    ("12", "Il marque douze buts lors de sa première saison.", "Combien de buts a-t-il marqués ?", "douze buts"),
    ("5", "Les députés sont élus pour un mandat de cinq ans.", "Quelle est la durée du mandat ?", "cinq ans"),
    ("7", "Le club finit septième du championnat.", "Quel est le classement final ?", "septième"),
    # in digits: the counted noun, across a multiplier and "de"
    ("12 000", "Cornwallis dispose de 12 000 hommes.", "Quelle est la taille de l'armée ?", "12 000 hommes"),
    ("3", "La ville compte 3 millions d'habitants.", "Combien d'habitants ?", "3 millions d'habitants"),
    # left alone: a number followed by a month or a preposition, a name, answers that are not bare numbers
    ("21", "Le 21 janvier, ils ont discuté.", "Combien de jours ?", "21"),
    ("300", "Il y en avait 300 en tout.", "Combien étaient-ils ?", "300"),
    ("2", "Elle a joué 2 Mozart.", "Combien ?", "2"),
    ("douze buts", "Il marque 12 buts.", "Combien de buts ?", "douze buts"),
    ("4", "Il marque douze buts.", "Combien de buts ?", "4"),
])
def test_source_wording(claim, sentence, question, expected):
    assert source_wording(claim, [sentence], question) == expected


def test_verified_answer_takes_the_source_wording_and_keeps_an_exact_quote():
    text = "Le club est fondé en 1901. Meazza marque douze buts lors de sa première saison."
    start = text.index("Meazza")
    passages = [Passage(n=1, doc_id="d.txt", chunk_id="c1", start=start, end=len(text), text=text[start:], score=1.0)]
    verdict = verify("12 [1]", "Combien de buts Meazza marque-t-il lors de sa première saison ?", passages, {"d.txt": text})
    assert verdict.answer == "douze buts [1]"
    assert verdict.citations[0].quote == text[start:]


def test_a_year_stays_a_year():
    text = "Le traité de 1919 marque la fin de la guerre."
    passages = [Passage(n=1, doc_id="d.txt", chunk_id="c1", start=0, end=len(text), text=text, score=1.0)]
    assert source_wording("1919", [text], "En quelle année ?") == "1919 marque"  # what the date check prevents
    verdict = verify("1919 [1]", "En quelle année le traité marque-t-il la fin de la guerre ?", passages, {"d.txt": text})
    assert verdict.answer == "1919 [1]"


def test_the_occurrence_that_counts_what_is_asked_wins_then_the_models_digits():
    sentence = "Le projet Power of Siberia 2 et la construction dans deux centrales nucléaires sont en cours."
    assert source_wording("2", [sentence], "Dans combien de centrales nucléaires ?") == "deux centrales"
    sentence = "Il permettait exactement six niveaux de rouge, de vert et de bleu (6 × 6 × 6 = 216)."
    assert source_wording("6", [sentence], "Combien de gradients de rouge ?") == "6"


def test_source_span_gives_back_the_sentence_words_the_model_paraphrased():
    sentence = ("Moscou et Pékin ont discuté de la coopération économique et commerciale malgré les sanctions, "
                "le long des lignes de démarcation actuelles.")
    assert source_span("Economie et commerce", [sentence]) == "Économique et commerciale"
    assert source_span("Ligne de démarcation actuelle", [sentence]) == "Lignes de démarcation actuelles"
    assert source_span("les sanctions", [sentence]) == "les sanctions"  # the article where the source has it
    assert source_span("Des sanctions", [sentence]) == "Sanctions"  # and not where it has another


def test_source_span_keeps_claims_the_sentence_does_not_hold_in_one_stretch():
    sentence = "L'approvisionnement énergétique via ce gazoduc devrait débuter en 2027."
    assert source_span("Il devrait débuter en 2027.", [sentence]) == "Il devrait débuter en 2027."  # "Il" is not there
    assert source_span("2027", [sentence]) == "2027"  # bare numbers: source_wording's job
    assert source_span("Gazoduc qui débute en 2027", [sentence]) == "Gazoduc qui débute en 2027"
