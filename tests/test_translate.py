from rag.translate import _numbers, usable_translation


def test_numbers_compare_across_thousands_separators():
    assert _numbers("1 300 kilomètres") == _numbers("1,300 kilometres") == ["1300"]
    assert _numbers("12\u00a0000 hommes") == _numbers("12,000 men")
    assert _numbers("une heure et demie, 1,5 heure") == _numbers("1.5 hours")  # decimals keep both parts
    assert _numbers("le 21 janvier 2023") != _numbers("January 21, 2024")


def test_a_question_must_translate_to_a_question():
    question = "Despite what is economic cooperation between Russia and China still growing?"
    assert usable_translation(question, "Malgré quoi la coopération économique progresse-t-elle ?") is not None
    assert usable_translation(question, "Bien qu'il y ait une croissance économique, cela continue.") is None
    assert usable_translation(question, 'Traduction : "Malgré quoi progresse-t-elle ?"') == "Malgré quoi progresse-t-elle ?"
    assert usable_translation(question, "") is None and usable_translation(question, question) is None
    assert usable_translation("Who signed it", "Qui l'a signé") == "Qui l'a signé"  # no "?" asked, none needed
