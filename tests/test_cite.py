from rag.checks.cite import adds_content, key_terms, parse_markers, relevant_to, ungrounded_terms, unmentioned_names, verify
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
    assert ungrounded_terms("Moscow signed it in February 2023", TEXT, "") == []  # near spellings, month names
    # A translated name that shares no spelling is not looked up in a word list: the pivot checks French answers.
    assert ungrounded_terms("Moscow and Beijing signed it", TEXT, "") == ["beijing"]
    assert ungrounded_terms("It will start in 2028", TEXT, "") == ["2028"]
    assert ungrounded_terms("Signed by Gazprom", TEXT, "") == ["gazprom"]


def test_codes_of_letters_and_digits_are_grounded_whole():
    source = "Mike Conway, sur la Toyota TS050 Hybrid no 7, a établi la première référence."
    assert ungrounded_terms("Toyota TS050 Hybrid no 7", source, "") == []
    assert ungrounded_terms("Toyota TX050", source, "") == ["tx"]  # another code is still refused


def test_the_sentence_cited_is_the_one_that_answers_the_question():
    source = ("Le 21 janvier, Poutine et Xi ont discuté du retour de Donald Trump à la Maison Blanche. "
              "M. Xi a parlé de sa récente conversation avec M. Trump, qui a eu lieu le 17 janvier.")
    passages = [Passage(n=1, doc_id="s.txt", chunk_id="c", start=0, end=len(source), text=source, score=1.0)]
    verdict = verify("Donald Trump [1]", "Avec quel dirigeant Xi s'est-il entretenu le 17 janvier ?", passages,
                     {"s.txt": source})
    assert [c.quote for c in verdict.citations] == [source[source.index("M. Xi"):]]


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
    question = "À quelle date Moscou et Pékin ont-ils signé un accord ?"
    verdict = verify("Moscou et Pékin ont signé un accord [1].", question, _passages(), {"d.txt": TEXT})
    assert verdict.abstained and "repeats" in verdict.reason
    assert not verify("En février 2023 [1].", "Quand l'accord a-t-il été signé ?", _passages(), {"d.txt": TEXT}).abstained


def test_a_number_answering_how_many_times_is_no_echo():
    assert not adds_content("fois", "Combien de fois le club a-t-il gagné ?")
    assert adds_content("Une fois", "Combien de fois le club a-t-il gagné ?")
    assert not adds_content("Une ville", "Quelle ville ?")  # "une" is an article here


def test_a_longer_word_sharing_a_prefix_is_no_echo():
    assert adds_content("la francophonie", "Sur quel plan se comparent le Royaume-Uni et la France ?")
    assert not adds_content("les Français", "Quel pays, la France ou l'Italie ?")


def test_an_answer_from_an_unrelated_sentence_is_refused():
    # 2027 is in the passages, but in a sentence that has nothing to do with the visioconference.
    verdict = verify("En 2027 [1].", "Quand la visioconférence a-t-elle eu lieu ?", _passages()[:1], {"d.txt": TEXT})
    assert verdict.abstained and "does not match" in verdict.reason


def test_spelled_numbers_ground_digits():
    assert ungrounded_terms("2ème mandat", "alors que débute le second mandat de Donald Trump", "") == []
    assert ungrounded_terms("2 ans", "La construction a duré deux ans.", "") == []
    assert ungrounded_terms("3 ans", "La construction a duré deux ans.", "") == ["3"]


def test_units_alone_do_not_make_a_sentence_relevant():
    zone = "Une zone démilitarisée de 1 300 kilomètres de long patrouillée par des troupes européennes."
    assert not relevant_to(zone, "Combien de kilomètres de long mesure le gazoduc ?")
    assert relevant_to(zone, "Combien de kilomètres de long ferait la zone ?")


def test_a_bare_number_is_checked_again_in_the_source_unit():
    zone = "Une zone démilitarisée de 1 300 kilomètres de long serait patrouillée par des troupes européennes."
    passages = [Passage(n=1, doc_id="z.txt", chunk_id="c", start=0, end=len(zone), text=zone, score=1.0)]
    question = "Combien de soldats européens patrouilleraient la zone démilitarisée ?"
    verdict = verify("1300 [1]", question, passages, {"z.txt": zone})
    assert verdict.abstained and "kind asked for" in verdict.reason
    kept = verify("1300 [1]", "Quelle serait la longueur de la zone démilitarisée ?", passages, {"z.txt": zone})
    assert not kept.abstained and kept.answer.startswith("1 300 kilomètres")


def test_an_answer_from_documents_that_never_name_the_question_subject_is_refused():
    question = "Quand Bruce Nauman a-t-il signé l'accord ?"
    verdict = verify("En février 2023 [1]", question, _passages(), {"d.txt": TEXT})
    assert verdict.abstained and verdict.reason == "the documents never mention bruce, nauman"
    # the same answer to a question naming what the document names passes this check
    assert not verify("En février 2023 [1]", "Quand Moscou a-t-il signé l'accord ?", _passages(), {"d.txt": TEXT}).abstained


def test_one_name_found_is_enough_and_the_whole_document_counts():
    document = "Clelia Mosher est médecin. " + TEXT
    assert unmentioned_names("Que fait Clelia Mosher ?", [document]) == []
    assert unmentioned_names("Que fait le Dr Mosher à Pékin ?", [TEXT]) == []  # "Pékin" is there
    assert unmentioned_names("Que fait Clelia Mosher ?", [TEXT]) == ["clelia", "mosher"]
    assert unmentioned_names("Que signe-t-on en 2023 ?", [TEXT]) == []  # no name, nothing to check


def test_a_translated_question_is_checked_on_the_names_that_survived_translation():
    # "Extrême-Orient" translates "Far East": a capitalised phrase, not a name the user wrote
    assert unmentioned_names("Quand le gazoduc de l'Extrême-Orient ouvrira-t-il ?", [TEXT],
                             asked_as="When will the Far East pipeline open?") == []
    assert unmentioned_names("Quand Poutine a-t-il signé ?", [TEXT], asked_as="When did Putin sign?") == ["poutine"]
