from rag.translate import usable_translation


def test_a_question_must_translate_to_a_question():
    question = "Despite what is economic cooperation between Russia and China still growing?"
    assert usable_translation(question, "Malgré quoi la coopération économique progresse-t-elle ?") is not None
    assert usable_translation(question, "Bien qu'il y ait une croissance économique, cela continue.") is None
    assert usable_translation(question, 'Traduction : "Malgré quoi progresse-t-elle ?"') == "Malgré quoi progresse-t-elle ?"
    assert usable_translation(question, "") is None and usable_translation(question, question) is None
    assert usable_translation("Who signed it", "Qui l'a signé") == "Qui l'a signé"  # no "?" asked, none needed
