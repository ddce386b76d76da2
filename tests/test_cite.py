import pytest

from rag.cite import fits_question_type, key_terms, parse_markers, ungrounded_terms, verify
from rag.schema import Passage

TEXT = (
    "Moscou et Pékin ont signé un accord en février 2023. "
    "L'approvisionnement énergétique via ce gazoduc devrait débuter en 2027. "
    "La visioconférence a duré plus d'une heure et demie."
)


def _passages():
    first_end = TEXT.index("La visio")
    return [
        Passage(n=1, doc_id="d.txt", chunk_id="c1", start=0, end=first_end - 1, text=TEXT[: first_end - 1], score=1.0),
        Passage(n=2, doc_id="d.txt", chunk_id="c2", start=first_end, end=len(TEXT), text=TEXT[first_end:], score=0.5),
    ]


def test_parse_markers():
    assert parse_markers("Il a duré deux heures [2].") == ("Il a duré deux heures.", [2])
    assert parse_markers("A [1, 3] et B [3]") == ("A et B", [1, 3])


def test_key_terms_skip_sentence_initial_capitals():
    assert key_terms("Le gazoduc ouvrira en 2027 avec Gazprom.") == (["2027"], ["gazprom"])
    assert key_terms("Une zone de 1 300 kilomètres") == (["1300"], [])


def test_grounding_accepts_cross_language_spellings_and_rejects_inventions():
    assert ungrounded_terms("Moscow and Beijing signed it in February 2023", TEXT, "") == []
    assert ungrounded_terms("It will start in 2028", TEXT, "") == ["2028"]
    assert ungrounded_terms("Signed by Gazprom", TEXT, "") == ["gazprom"]


def test_verify_fixes_a_wrong_marker_and_quotes_exactly():
    verdict = verify("Il devrait débuter en 2027 [2].", "Quand l'approvisionnement débutera-t-il ?", _passages(), {"d.txt": TEXT})
    assert not verdict.abstained
    (c,) = verdict.citations
    assert c.n == 1 and c.quote == TEXT[c.start : c.end] and "2027" in c.quote
    assert verdict.answer.endswith("[1].")


def test_verify_attributes_an_unmarked_answer():
    verdict = verify("Plus d'une heure et demie", "Combien de temps a duré la visioconférence ?", _passages(), {"d.txt": TEXT})
    assert [c.n for c in verdict.citations] == [2] and not verdict.abstained


def test_equal_support_goes_to_the_better_passage_wherever_it_stands():
    # The prompt lists the best sentence last (RAG_EVIDENCE_ORDER=best_last): ties must not favour the first one.
    text = "Le port sera prêt en 2027. Le gazoduc sera prêt en 2027."
    cut = text.index("Le gazoduc")
    passages = [
        Passage(n=1, doc_id="d.txt", chunk_id="c1", start=0, end=cut - 1, text=text[: cut - 1], score=0.4),
        Passage(n=2, doc_id="d.txt", chunk_id="c2", start=cut, end=len(text), text=text[cut:], score=0.9),
    ]
    verdict = verify("En 2027", "Quand le gazoduc sera-t-il prêt ?", passages, {"d.txt": text})
    assert [c.n for c in verdict.citations] == [2] and not verdict.abstained


def test_verify_abstains_on_invented_numbers_and_on_refusals():
    assert verify("Le prix est de 1000 euros [1].", "Prix ?", _passages(), {"d.txt": TEXT}).abstained
    assert verify("Je ne sais pas.", "Prix ?", _passages(), {"d.txt": TEXT}).abstained
    assert verify("", "Prix ?", _passages(), {"d.txt": TEXT}).abstained


def test_an_echo_of_the_question_is_no_answer():
    question = "À quelle date Trump et Poutine se sont-ils parlé au téléphone ?"
    verdict = verify("Trump et Poutine se sont parlé au téléphone [1].", question, _passages(), {"d.txt": TEXT})
    assert verdict.abstained and "repeats" in verdict.reason
    assert not verify("En février 2023 [1].", "Quand l'accord a-t-il été signé ?", _passages(), {"d.txt": TEXT}).abstained


def test_question_type_check():
    from rag.cite import fits_question_type

    assert fits_question_type("Le 21 janvier", "Quel jour se sont-ils parlé ?")
    assert fits_question_type("juste après l'investiture", "Quand l'appel pourrait-il avoir lieu ?")
    assert fits_question_type("plus d'une heure et demie", "Combien de temps a duré l'entretien ?")
    assert fits_question_type("Iouri Ouchakov", "Qui est le conseiller ?")
    assert not fits_question_type("lors de la visioconférence du Nouvel An", "Quel jour Poutine a-t-il salué Trump ?")
    assert not fits_question_type("Xi Jinping", "How many kilometres long is the zone?")


def test_an_answer_from_an_unrelated_sentence_is_refused():
    # 2027 is in the passages, but in a sentence that has nothing to do with the visioconference.
    verdict = verify("En 2027 [1].", "Quand la visioconférence a-t-elle eu lieu ?", _passages()[:1], {"d.txt": TEXT})
    assert verdict.abstained and "does not match" in verdict.reason


def test_quantity_and_duration_answers_must_fit_what_is_asked():
    from rag.cite import fits_question_type

    assert not fits_question_type("1 300 kilomètres", "Combien de soldats patrouilleraient la zone ?")
    assert fits_question_type("5 000 soldats", "Combien de soldats patrouilleraient la zone ?")
    assert fits_question_type("10 milliards de mètres cubes", "Combien de milliards de mètres cubes de gaz ?")
    assert not fits_question_type("1 300 kilomètres", "En combien de temps Trump veut-il arrêter les combats ?")
    assert fits_question_type("24 heures", "En combien de temps Trump veut-il arrêter les combats ?")
    assert not fits_question_type("1,300 km", "How long did the call last?")
    assert fits_question_type("1,300 km", "How long would the demilitarised zone be?")
    assert fits_question_type("24 heures", "Within how many hours did Trump pledge to end the fighting?")


def test_a_bare_number_does_not_name_a_thing():
    assert not fits_question_type("2027", "Quel gazoduc avance conformément au calendrier ?")
    assert not fits_question_type("12 000", "Quel gradé fait barrage aux troupes ?")
    assert not fits_question_type("2027", "Which pipeline is on schedule?")
    assert fits_question_type("le gazoduc d'Extrême-Orient", "Quel gazoduc avance conformément au calendrier ?")
    assert fits_question_type("2027", "En quelle année le gazoduc doit-il entrer en service ?")
    assert fits_question_type("7 800", "Quelle était la force de la plus puissante des colonnes ?")
    assert fits_question_type("12", "Quel est le classement final du club ?")
    assert fits_question_type("500", "What did the ticket cost?")  # "what" + verb: no noun to check


@pytest.mark.parametrize("claim, question, expected", [
    ("Les unités de production dans deux centrales nucléaires", "Comment s'appellent les deux centrales ?", False),
    ("Électricité dans deux centrales chinoises", "Which Chinese companies are taking part in the project?", False),
    ("Power of Siberia 2", "What is the name of the pipeline project?", True),
    ("Gazprom", "Quelles entreprises participent au projet ?", True),
    ("le conseiller", "Quel est le nom du conseiller ?", False),
    ("le conseiller", "Qui a parlé ?", True),  # not a name question
])
def test_name_questions_need_a_name(claim, question, expected):
    assert fits_question_type(claim, question) is expected


def test_spelled_numbers_ground_digits():
    assert ungrounded_terms("2ème mandat", "alors que débute le second mandat de Donald Trump", "") == []
    assert ungrounded_terms("2 ans", "La construction a duré deux ans.", "") == []
    assert ungrounded_terms("3 ans", "La construction a duré deux ans.", "") == ["3"]


def test_units_alone_do_not_make_a_sentence_relevant():
    from rag.cite import relevant_to

    zone = "Une zone démilitarisée de 1 300 kilomètres de long patrouillée par des troupes européennes."
    assert not relevant_to(zone, "Combien de kilomètres de long mesure le gazoduc ?")
    assert relevant_to(zone, "Combien de kilomètres de long ferait la zone ?")
