import pytest

from rag.conversation.phrases import noun_phrases


@pytest.mark.parametrize("question, phrases", [
    # a participle after its auxiliary and adverbs, and an infinitive after "à", are verbs, not referents
    ("Quel ministre s'est de nouveau dit prêt à rencontrer les syndicats ?", ["les syndicats", "prêt", "le ministre"]),
    ("Qu'a-t-il déjà annoncé sur le barrage ?", ["le barrage"]),
    ("Le maire n'a pas voulu commenter.", ["Le maire"]),
    # "dû" (had to) is not "du" (of the): no article is made up
    ("Pourquoi ont-ils dû fermer la frontière ?", ["la frontière"]),
    # an English past tense before its object, or after "who", is a verb; an adjective before its noun is not
    ("Which Russian official described the video call?", ["the video call", "the Russian official"]),
    ("Who reported the length of the call?", ["the length of the call"]),
    ("Who sent the armed forces?", ["the armed forces"]),
    # the noun a "quel N" asks for takes the article "quel" calls for
    ("Quelle chaîne américaine a parlé de l'appel ?", ["l'appel", "la chaîne américaine"]),
    ("Quels accords a-t-il signés ?", ["les accords"]),
])
def test_noun_phrases_leave_verbs_out(question, phrases):
    assert noun_phrases(question) == phrases
