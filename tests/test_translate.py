from rag.translate import usable_translation


def test_a_question_must_translate_to_a_question():
    question = "Despite what is economic cooperation between Russia and China still growing?"
    assert usable_translation(question, "Malgré quoi la coopération économique progresse-t-elle ?") is not None
    assert usable_translation(question, "Bien qu'il y ait une croissance économique, cela continue.") is None
    assert usable_translation(question, 'Traduction : "Malgré quoi progresse-t-elle ?"') == "Malgré quoi progresse-t-elle ?"
    assert usable_translation(question, "") is None and usable_translation(question, question) is None
    assert usable_translation("Who signed it", "Qui l'a signé") == "Qui l'a signé"  # no "?" asked, none needed


def test_numbers_and_dates_are_translated_without_the_model():
    from rag.translate import fixed_translation
    assert fixed_translation("2027") == "2027" and fixed_translation("1 300") == "1 300"
    assert fixed_translation("Le 17 janvier") == "January 17"
    assert fixed_translation("1er février 2023") == "February 1, 2023"
    assert fixed_translation("décembre 2024") == "December 2024"
    # anything with words to translate goes to the model
    for text in ("1 300 kilomètres", "mars", "En 2027", "Le 17 janvier et le 18 janvier", "Iouri Ouchakov"):
        assert fixed_translation(text) is None
