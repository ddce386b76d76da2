"""Follow-up questions in a chat: make a question that refers back standalone.

"Et quand doit-il débuter ?" after "Où en sont les travaux du gazoduc d'Extrême-Orient ?" becomes
"Quand le gazoduc d'Extrême-Orient doit-il débuter ?".

The rules (rag/conversation/refer.py) detect the reference and splice the referent in; this module chooses the referent. The
bundled models echo a question back when asked to rewrite it whole, but name what a pronoun refers to decently. So
the referent comes from the previous answer when it names what the previous question asked for, else the model
names it (a phrase that must occur in the previous question or answer), else a noun-phrase heuristic picks it.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from rag.conversation.dates import with_relative_day
from rag.text.lang import detect_language
from rag.conversation.phrases import noun_phrases, widen
from rag.conversation.refer import (INVERTED, QUESTION_WORDS, Reference, de_phrase, detect_reference, fold_token,
                                    interrogative_phrase, is_content, singular, splice, tokenize)


_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
# "Qui … ?", "Quel dirigeant … ?", "Which news outlet … ?": the answer names a thing a later pronoun can stand for.
_ASKS_FOR_A_NAME = re.compile(r"(?i)^\W*(?:(?:et|and)\W+)?(?:[àa]\s+|avec\s+|with\s+|de\s+)?"
                              r"(?:qui|who|whom|(?:quel|quelle|quels|quelles|which|what)\s+([\w-]+))\b")
_NOT_A_THING = {  # "quel jour", "what did": the answer is a date, or the word is a verb
    "jour", "annee", "date", "mois", "heure", "heures", "temps", "duree", "day", "year", "month", "time", "est", "sont",
    "etait", "a", "ont", "is", "are", "was", "were", "did", "does", "do", "has", "have", "had", "will", "would", "can"}
_DETERMINERS = {"le", "la", "les", "l'", "un", "une", "the", "a", "an"}
_DEMONSTRATIVES = {"ce": "le", "cet": "l'", "cette": "la", "ces": "les", "this": "the", "that": "the", "these": "the",
                   "those": "the"}
_LINKS = {"de", "d'", "du", "des", "avec", "entre", "sur", "of", "with", "between", "on", "about", "m", "mm", "."}


def claim_of(answer: str) -> str:
    """The answer without its [n] markers and final stop: "Iouri Ouchakov [1]." gives "Iouri Ouchakov"."""
    return _MARKERS.sub("", answer or "").strip().rstrip(".!?… ").strip()


def answer_referent(previous: str, answer: str, cited: tuple[str, ...] = ()) -> str | None:
    """The previous answer, when it is short and names the person or thing the previous question asked for:
    "Selon lui" after "Qui conseille Poutine ?" / "Iouri Ouchakov [1]." stands for Iouri Ouchakov."""
    asked, claim = _ASKS_FOR_A_NAME.search(previous), claim_of(answer)
    if not asked or not claim or len(claim.split()) > 6 or any(ch.isdigit() for ch in claim):
        return None
    if asked.group(1) and fold_token(asked.group(1)) in _NOT_A_THING:
        return None
    words = [t for t in tokenize(claim) if t.is_word]
    if not any(t.text[:1].isupper() and t.key not in _DETERMINERS for t in words):
        return None
    common = next((text for text in cited if f" {words[0].text.lower()} " in f" {text} "), None)
    if common is not None:  # "Gazoduc d'Extrême-Orient": a common noun, with the article the sentence gives it
        claim = widen(claim[:1].lower() + claim[1:], common)
    return claim


_PERSONAL = {"he", "she", "him", "his", "her", "hers", "himself", "herself"}  # English: persons only, unlike il/elle


def names_someone(phrase: str) -> bool:
    """A phrase that may name a person: it holds a capitalised word ("Putin", "the Russian official", "Mr. Xi")."""
    return any(t.is_word and t.text[:1].isupper() for t in tokenize(phrase))


_PLURAL_POINTERS = {"ils", "elles", "eux", "leur", "leurs", "they", "them", "their", "these", "those"}
_PHRASE_ENDS = {"sur", "pour", "avec", "dans", "a", "en", "par", "qui", "que", "qu'", "dont", "lors", "on", "for", "with",
                "in", "at", "by", "which", "that", "who", "to", ",", ";", ":", "("}


def answer_phrase(previous: str, answer: str, pronoun: str) -> str | None:
    """A longer answer to "Quelle déclaration … ?" ("Les commentaires de M. Trump sur son désir …"): its leading noun
    phrase ("les commentaires de M. Trump"), when it agrees in number with the pronoun that refers back ("Sur quoi
    portaient-ils ?"). A singular pronoun may as well stand for the previous question's subject, so only agreement
    tells them apart."""
    noun = asked_noun(previous)
    if not noun or noun in _NOT_A_THING or not pronoun:
        return None
    claim = claim_of(answer)
    tokens = tokenize(claim)
    if len(tokens) < 2 or tokens[0].key not in _DETERMINERS:
        return None
    end = next((i for i, t in enumerate(tokens) if i >= 2 and t.key in _PHRASE_ENDS), len(tokens))
    if sum(t.is_word for t in tokens[:end]) > 6:
        return None
    plural = tokens[0].key in {"les", "des"} or (tokens[0].key == "the" and tokens[1].key.endswith("s"))
    if plural != (pronoun in _PLURAL_POINTERS):
        return None
    phrase = claim[: tokens[end - 1].end]
    return phrase[:1].lower() + phrase[1:]


def asked_noun(previous: str) -> str:
    """The noun a "quel N" / "which N" question asks for ("chaîne" in "Quelle chaîne américaine a parlé… ?")."""
    asked = _ASKS_FOR_A_NAME.search(previous)
    return fold_token(asked.group(1)) if asked and asked.group(1) else ""


def bare_ellipsis(question: str, previous: str) -> str | None:
    """ "Et l'approvisionnement via le gazoduc ?" after "En quelle année … ?": the previous question's interrogative
    phrase asked about the new subject, "À propos de l'approvisionnement via le gazoduc : en quelle année ?"."""
    words = [t for t in tokenize(question) if t.is_word]
    if len(words) < 3 or words[0].key not in {"et", "and"} or words[1].key not in _DETERMINERS | {"du", "des", "au"}:
        return None
    if any(w.key in QUESTION_WORDS | {"other", "autre", "autres"} for w in words):
        return None  # "And the other project, what is it called?" asks its own question, about another subject
    if detect_reference(question) is None or detect_reference(question).kind != "elliptical":
        return None
    asked = interrogative_phrase(previous)
    if fold_token(asked) in {"", "qu'", "que", "what", "quoi", "qui", "who"}:
        return None
    subject = question[words[1].start:words[-1].end]
    if detect_reference(question).language == "fr" or detect_language(previous) == "fr":
        return f"À propos {de_phrase(subject[:1].lower() + subject[1:])} : {asked[:1].lower() + asked[1:]} ?"
    return f"Regarding {subject}: {asked[:1].lower() + asked[1:]}?"


def demonstrative_referent(question: str, ref: Reference, texts: list[str]) -> str | None:
    """ "Cette conversation" when the conversation (question, answer, cited sentence) speaks of "sa récente
    conversation avec M. Trump": "la conversation avec M. Trump", with the article the demonstrative calls for."""
    tokens = tokenize(question)
    if ref.kind != "demonstrative" or ref.index + 1 >= len(tokens):
        return None
    article, noun = _DEMONSTRATIVES.get(tokens[ref.index].key), tokens[ref.index + 1]
    for text in texts:
        found = tokenize(text)
        at = next((i for i, t in enumerate(found) if t.key == noun.key), None)
        if at is None:
            continue
        end = at  # extend over complements: "avec M. Trump", "d'Extrême-Orient", "of the Far East"
        while end + 2 < len(found) and found[end + 1].key in _LINKS and (is_content(found[end + 2]) or found[end + 2].key in _LINKS | _DETERMINERS):
            end += 2
            while end + 1 < len(found) and (is_content(found[end + 1]) and found[end + 1].text[:1].isupper()):
                end += 1
        if end == at:
            continue  # the bare noun adds nothing to the question
        head = "l'" if article in ("le", "la") and fold_token(noun.text[:1]) in "aeiouyh" else article
        return f"{head}{'' if head.endswith(chr(39)) else ' '}{text[found[at].start:found[end].end]}"
    return None


# ---- the model's part ---------------------------------------------------------------------------------------------
PROMPTS = {  # (instructions, labels, worked examples: previous question, answer, follow-up, referent)
    "fr": ("Dans la question précédente ou dans sa réponse, trouve le groupe nominal auquel la question de suivi fait "
           "référence. Écris seulement ce groupe nominal, tel qu'il est écrit.",
           ("Question précédente :", "Réponse :", "Question de suivi :"),
           [("Qui a construit la tour Eiffel ?", "Gustave Eiffel.", "Et quand a-t-elle été achevée ?", "la tour Eiffel"),
            ("Quel ingénieur a construit la tour Eiffel ?", "Gustave Eiffel.", "Où est-il né ?", "Gustave Eiffel")]),
    "en": ("In the previous question or its answer, find the noun phrase that the follow-up question refers to. "
           "Write only that noun phrase, as written.",
           ("Previous question:", "Answer:", "Follow-up question:"),
           [("Who built the Eiffel Tower?", "Gustave Eiffel.", "And when was it finished?", "the Eiffel Tower"),
            ("Which engineer built the Eiffel Tower?", "Gustave Eiffel.", "Where was he born?", "Gustave Eiffel")]),
}


def referent_messages(previous: str, question: str, language: str, answer: str = "") -> list[dict[str, str]]:
    """The system message and the examples are the same for every follow-up, so llama.cpp keeps them cached."""
    system, labels, examples = PROMPTS.get(language, PROMPTS["en"])

    def turn(prev: str, ans: str, follow: str) -> str:
        return "\n".join(f"{label} {text}" for label, text in zip(labels, (prev, ans or "-", follow)))

    messages = [{"role": "system", "content": system}]
    for ex_prev, ex_answer, ex_follow, ex_referent in examples:
        messages += [{"role": "user", "content": turn(ex_prev, ex_answer, ex_follow)},
                     {"role": "assistant", "content": ex_referent}]
    return messages + [{"role": "user", "content": turn(previous, claim_of(answer), question)}]


def check_referent(text: str, previous: str) -> str | None:
    """The model's referent if usable: short, a phrase of the previous question (or answer), with a content word."""
    phrase = text.strip().strip("«»\"'“”.?!:;").strip()
    if not phrase or len(phrase) > 120 or len(phrase.split()) > 12 or "\n" in phrase:
        return None
    norm = lambda s: " ".join(re.findall(r"\w+", fold_token(s)))  # noqa: E731
    bare = re.sub(r"^(?:le|la|les|l|un|une|the|a|an) ", "", norm(phrase))  # "le gazoduc" for "du gazoduc"
    if not bare or f" {bare} " not in f" {norm(previous)} ":
        return None
    if not any(is_content(t) for t in tokenize(phrase)):
        return None
    return phrase


@dataclass
class Rewrite:
    question: str  # what was typed
    standalone: str  # what is asked; equal to question when nothing was rewritten
    referent: str = ""
    source: str = ""  # "answer", "cited", "model", "heuristic", or "" when not rewritten
    seconds: float = 0.0
    model_calls: int = 0  # generator calls spent on this rewrite (0 for a self-contained question)

    @property
    def rewritten(self) -> bool:
        return self.standalone != self.question


class Rewriter:
    """Makes follow-ups standalone against the previous turn: its standalone question, its answer and the sentences
    that answer cites. The generator is optional (without it, rules and a noun-phrase heuristic choose)."""

    def __init__(self, generator=None, max_chars: int = 2000):
        self.generator = generator
        self.max_chars = max_chars
        self._primed: set[str] = set()

    def _ask_model(self, previous: str, question: str, language: str, answer: str) -> str:
        if language not in self._primed and hasattr(self.generator, "prime"):
            self.generator.prime(referent_messages("?", "?", language))  # cache the fixed part once
            self._primed.add(language)
        return self.generator.generate(referent_messages(previous, question, language, answer), 16, stop=["\n"]).text

    def referent(self, previous: str, question: str, ref: Reference, answer: str = "",
                 cited: tuple[str, ...] = ()) -> tuple[str, str, int]:
        """(referent, how it was found, model calls spent)."""
        pronoun = INVERTED.sub(r"\3", tokenize(question)[ref.index].key) if ref.index >= 0 else ""
        slot = re.search(r"(?i)\b(?:quel|quelle|quels|quelles|which|what)\s+(\w+)", previous)
        if slot and answer:  # "De quel gazoduc ... ?" -> "Le gazoduc d'Extrême-Orient [1]." names it
            filled = [p for p in noun_phrases(claim_of(answer)) if fold_token(slot.group(1)) in fold_token(p).split()]
            if filled:
                return singular(filled[0], pronoun), "answer", 0
        same_language = [c for c in cited if detect_language(c) == detect_language(question)]  # no French in English
        demonstrative = demonstrative_referent(question, ref, [previous, claim_of(answer), *same_language])
        if demonstrative:
            return demonstrative, "cited", 0
        pointing = ref.kind != "elliptical" or {"y", "en", "there", "other", "autre"} & {t.key for t in tokenize(question)}
        named = (answer_referent(previous, answer, cited) or answer_phrase(previous, answer, pronoun)) if pointing else None
        if named:
            return named, "answer", 0
        chosen, source, calls = None, "", 0
        if self.generator is not None:
            language = detect_language(previous) if ref.kind == "elliptical" else ref.language
            calls = 1
            try:
                out = self._ask_model(previous, question, language, answer)
            except Exception:  # noqa: BLE001 - the heuristic takes over
                out = ""
            context = f"{previous} {claim_of(answer)}"
            chosen = check_referent(out, context)
            if chosen and pronoun in {"it", "il", "elle", "he", "she"} and re.search(r"\b(and|et)\b", chosen):
                chosen = None  # a singular pronoun does not stand for "Putin and Xi"
            if chosen:
                chosen, source = widen(chosen, previous if check_referent(chosen, previous) else claim_of(answer)), "model"
        # a pronoun rarely stands for a date or a number: "le 20 janvier" last
        candidates = sorted(noun_phrases(previous), key=lambda p: any(ch.isdigit() for ch in p))
        if pronoun in _PERSONAL:  # "he" is someone: "the video call" cannot stand for him
            candidates = [p for p in candidates if names_someone(p)]
        if not chosen and candidates:
            chosen, source = candidates[0], "heuristic"
        return (singular(chosen, pronoun), source, calls) if chosen else ("", "", calls)

    def rewrite(self, question: str, previous: str | None, answer: str = "", cited: tuple[str, ...] = ()) -> Rewrite:
        """`question` made standalone against the previous standalone question (its answer and cited sentences)."""
        question = question.strip()
        if not previous:
            return Rewrite(question, question)
        started = time.perf_counter()
        dated = with_relative_day(question, answer) if answer else None
        asks = dated and any(t.key in QUESTION_WORDS or INVERTED.match(t.text) for t in tokenize(dated))
        if asks:  # "Que s'est-il passé le lendemain ?" after "19 janvier [1]": "… le 20 janvier ?"
            return Rewrite(question, dated, claim_of(answer), "answer", time.perf_counter() - started)
        ref = detect_reference(question)
        if ref is None:
            return Rewrite(question, question)
        bare = bare_ellipsis(question, previous)
        if bare:
            return Rewrite(question, bare, interrogative_phrase(previous), "question", time.perf_counter() - started)
        referent, source, calls = self.referent(previous, question, ref, answer, tuple(cited))
        names_noun = ref.kind == "demonstrative" and source == "answer" and \
            tokenize(question)[ref.index + 1].key == asked_noun(previous)  # "cette chaîne" after "Quelle chaîne… ?"
        standalone = splice(question, referent, ref, names_noun) if referent else question
        if not standalone.strip() or len(standalone) > min(self.max_chars, len(question) + len(referent) + 40):
            standalone = question
        return Rewrite(question, standalone, referent, source if standalone != question else "",
                       time.perf_counter() - started, calls)
