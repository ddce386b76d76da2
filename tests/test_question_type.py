import pytest

from rag.checks.question_type import asks_when, fits_question_type


def test_question_type_check():
    assert fits_question_type("Le 21 janvier", "Quel jour se sont-ils parlé ?")
    assert fits_question_type("juste après l'investiture", "Quand l'appel pourrait-il avoir lieu ?")
    assert fits_question_type("plus d'une heure et demie", "Combien de temps a duré l'entretien ?")
    assert fits_question_type("Iouri Ouchakov", "Qui est le conseiller ?")
    assert not fits_question_type("lors de la visioconférence du Nouvel An", "Quel jour Poutine a-t-il salué Trump ?")
    assert not fits_question_type("Xi Jinping", "How many kilometres long is the zone?")


def test_quantity_and_duration_answers_must_fit_what_is_asked():
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


def test_a_when_clause_inside_another_question_does_not_ask_for_a_date():
    assert fits_question_type("Hermann Weinbuch", "Qui est le chef de l'équipe quand Florian Schilling est blessé ?")
    assert not fits_question_type("Hermann Weinbuch", "Quand Florian Schilling a-t-il été blessé ?")
    assert not fits_question_type("Hermann Weinbuch", "À quel moment l'appel aura-t-il lieu ?")
    assert fits_question_type("1930", "Jusqu'à quand a-t-il travaillé ?")
    assert asks_when("Depuis quand est-il là ?") and asks_when("When did the call take place?")
    assert not asks_when("Who led the team when the coach was ill?")


def test_the_noun_asked_for_skips_verbs_articles_and_ranking_words():
    assert fits_question_type("21", "Quel est le meilleur résultat de Florian Schillinger ?")
    assert fits_question_type("3 à 1", "Quel a été le score final ?")
    assert fits_question_type("1 300", "Quelle serait la longueur de la zone ?")
    assert not fits_question_type("2027", "Quel autre gazoduc est en construction ?")
    assert not fits_question_type("2", "Quelles sont les deux villes reliées ?")
    assert not fits_question_type("2027", "Which other pipeline is on schedule?")
