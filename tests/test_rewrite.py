"""rag.conversation.rewrite and rag.conversation.refer: the referent taken from the previous answer or its cited sentence, and rewrites that
read as standalone questions (rules only; the model's part is tested in test_chat.py and test_conversation.py)."""
import pytest

from rag.conversation.refer import detect_reference
from rag.conversation.rewrite import Rewriter, answer_phrase, answer_referent, check_referent, claim_of, demonstrative_referent, referent_messages

XI_TRUMP = ("De son côté, M. Xi Jinping a fourni à M. Poutine des détails sur sa récente conversation avec M. Trump, "
            "qui a eu lieu le 17 janvier et n’était pas liée à l’investiture présidentielle.")


def test_the_answer_is_the_referent_when_it_names_what_was_asked():
    assert claim_of("Iouri Ouchakov [1].") == "Iouri Ouchakov"
    assert answer_referent("Qui conseille Poutine en politique étrangère ?", "Iouri Ouchakov [1].") == "Iouri Ouchakov"
    assert answer_referent("Which news outlet cited private sources?", "CNN [2].") == "CNN"
    assert answer_referent("Quel jour Poutine a-t-il salué les propos de Trump ?", "Le 20 janvier [1].") is None
    assert answer_referent("Quel rôle joue Iouri Ouchakov ?", "conseiller de politique étrangère [1]") is None  # no name
    assert answer_referent("What did Putin welcome?", "Trump's comments [1].") is None  # "what did": a verb, not a thing
    assert answer_referent("Qui conseille Poutine ?", "") is None


def test_a_demonstrative_takes_its_complement_from_the_cited_sentence():
    ref = detect_reference("Cette conversation était-elle liée à l'investiture ?")
    assert ref.kind == "demonstrative"
    found = demonstrative_referent("Cette conversation était-elle liée à l'investiture ?", ref, ["Trump", XI_TRUMP])
    assert found == "la conversation avec M. Trump"
    assert demonstrative_referent("Cette conversation était-elle liée à l'investiture ?", ref, ["rien à voir"]) is None


def test_he_and_she_stand_for_someone_named():
    rules = Rewriter()
    rewrite = rules.rewrite("Which organisation did he mention?", "Which Russian official described the video call?")
    assert rewrite.standalone == "Which organisation did the Russian official mention?"
    # nothing in the previous question names a person: "he" is left as it is rather than made "the video call"
    unchanged = rules.rewrite("What did he say?", "How long did the video call last?")
    assert unchanged.standalone == "What did he say?" and not unchanged.rewritten
    # "it" may stand for a thing
    assert rules.rewrite("When did it start?", "How long did the video call last?").rewritten


@pytest.mark.parametrize("previous, answer, cited, question, standalone", [
    ("Qui conseille Poutine en politique étrangère ?", "Iouri Ouchakov [1].", (),
     "Selon lui, sur quelles bases Moscou veut-il construire ses relations avec l'équipe Trump ?",
     "Selon Iouri Ouchakov, sur quelles bases Moscou veut-il construire ses relations avec l'équipe Trump ?"),
    ("Avec quel dirigeant Xi Jinping s'est-il entretenu le 17 janvier ?", "Trump [1].", (XI_TRUMP,),
     "Cette conversation était-elle liée à l'investiture ?",
     "La conversation avec M. Trump était-elle liée à l'investiture ?"),
    ("Quel projet énergétique commun Poutine et Xi ont-ils évoqué ?", "Le gazoduc d'Extrême-Orient [1].", (),
     "Où en sont ses travaux ?", "Où en sont les travaux du gazoduc d'Extrême-Orient ?"),
    ("Quel projet énergétique commun Poutine et Xi ont-ils évoqué ?", "Gazoduc d'Extrême-Orient [1].",
     ("Ils ont discuté de projets communs, notamment du gazoduc d'Extrême-Orient, dont les travaux progressent.",),
     "Où en sont ses travaux ?", "Où en sont les travaux du gazoduc d'Extrême-Orient ?"),  # the article of the source
    ("Which Chinese leader spoke with Putin on 21 January?", "Xi Jinping [1].", (),
     "Whom else had he spoken with shortly before?", "Whom else had Xi Jinping spoken with shortly before?"),
    # a longer answer's leading noun phrase, when it agrees with the plural pronoun
    ("Quelle déclaration Poutine a-t-il saluée le 20 janvier ?",
     "Les commentaires de M. Trump sur son désir de rétablir les relations avec la Russie [1].", (),
     "Sur quoi portaient-ils ?", "Sur quoi les commentaires de M. Trump portaient-ils ?"),
    # the subject goes before a reflexive or object pronoun; "que s'est-il passé" is impersonal
    ("Quand le sommet de Pékin a-t-il commencé ?", "", (), "Comment s'est-il déroulé ?",
     "Comment le sommet de Pékin s'est-il déroulé ?"),
    ("Quel jour CNN a-t-elle cité des sources privées ?", "19 janvier [1].", (), "Et que s'est-il passé ensuite ?",
     "À propos des sources privées : que s'est-il passé ensuite ?"),
    # "will the units be built": the subject ends before "be", it has no main verb to drop
    ("In what kind of plants will the power generation units be built?", "nuclear [1].", (), "How many of them?",
     "How many of the power generation units?"),
    # self-contained, though they start like follow-ups
    ("Quel jour Poutine a-t-il salué les commentaires de Trump ?", "20 janvier [1].", (),
     "Et Xi, quel jour a-t-il parlé avec Trump ?", "Et Xi, quel jour a-t-il parlé avec Trump ?"),
    ("Combien de centrales ?", "deux [1]", (), "Et pour le méga-oléoduc, quel est son nom ?",
     "Et pour le méga-oléoduc, quel est son nom ?"),
])
def test_rules_make_grammatical_standalone_questions(previous, answer, cited, question, standalone):
    rewrite = Rewriter(generator=None).rewrite(question, previous, answer, cited)
    assert rewrite.standalone == standalone
    assert rewrite.model_calls == 0


def test_a_longer_answer_stands_for_a_pronoun_of_its_own_number_only():
    previous, answer = "Quelle déclaration Poutine a-t-il saluée ?", "Les commentaires de M. Trump sur son désir [1]."
    assert answer_phrase(previous, answer, "ils") == "les commentaires de M. Trump"
    assert answer_phrase(previous, answer, "il") is None  # "il" may be Poutine
    assert answer_phrase("Quel jour Poutine a-t-il parlé ?", "Le 20 janvier [1].", "il") is None  # a date, not a thing


def test_the_other_one_is_other_than_what_was_said():
    rewrite = Rewriter(None).rewrite("And the other pipeline project, what is it called?",
                                     "Which gas pipeline did Putin and Xi say was progressing as planned?",
                                     "The Far East pipeline [1].")
    assert rewrite.standalone == "Regarding the Far East pipeline: the other pipeline project, what is it called?"


def test_a_bare_noun_phrase_takes_the_previous_question_word():
    rewrite = Rewriter(None).rewrite("Et l'approvisionnement via le gazoduc ?",
                                     "En quelle année Moscou et Pékin ont-ils signé l'accord ?", "2023 [1].")
    assert rewrite.standalone == "À propos de l'approvisionnement via le gazoduc : en quelle année ?"
    assert rewrite.model_calls == 0


def test_the_models_prompt_shows_the_answer_and_keeps_a_fixed_prefix():
    a = referent_messages("Qui conseille Poutine ?", "Selon lui ?", "fr", "Iouri Ouchakov [1].")
    b = referent_messages("Quel gazoduc ?", "Quand doit-il débuter ?", "fr", "")
    assert a[:-1] == b[:-1]  # only the last message changes: llama.cpp keeps the rest cached
    assert "Réponse : Iouri Ouchakov\n" in a[-1]["content"] and "Réponse : -\n" in b[-1]["content"]
    assert check_referent("Iouri Ouchakov", "Qui conseille Poutine ? Iouri Ouchakov") == "Iouri Ouchakov"
