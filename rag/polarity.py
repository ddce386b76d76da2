"""Yes/no answers, judged again on the one sentence they cite.

Given the full prompt, the small models answer "Oui"/"Yes" to most yes/no questions, even when the passage says
"n'avait reçu aucun contact". Asked about that one sentence alone, the model sees its polarity much better.
The verdict is the likelier of the two first tokens (yes vs no), except where the clause of the sentence closest to
the question is negated and the question is not (or the reverse): then it is "no", the case the model gets wrong most.
"""
from __future__ import annotations

import re

from rag.generate import Generator
from rag.textnorm import terms

_ANSWERS = {"fr": ("Oui", "Non"), "en": ("Yes", "No")}
# One plain user turn: measured better than a system prompt with worked examples (which pulled towards "Oui").
_TEMPLATES = {
    "fr": "{sentence}\n\nD'après ce texte, {question} Réponds par Oui ou par Non.",
    "en": "{sentence}\n\nAccording to this text, {question} Answer Yes or No.",
}
_LOWERCASE_OPENERS = {"le", "la", "les", "l", "un", "une", "des", "est-ce", "ce", "cette", "ces", "il", "elle", "ils",
                      "elles", "the", "a", "an", "is", "are", "was", "were", "do", "does", "did", "has", "have", "had",
                      "can", "could", "will", "would", "should"}


def polarity_messages(question: str, sentence: str, language: str) -> list[dict[str, str]]:
    template = _TEMPLATES.get(language, _TEMPLATES["en"])
    question = question.strip()
    first = question.split(maxsplit=1)[0] if question else ""
    if first.lower().split("'")[0] in _LOWERCASE_OPENERS:  # "D'après ce texte, la Maison Blanche…", not "moscou"
        question = question[:1].lower() + question[1:]
    return [{"role": "user", "content": template.format(sentence=" ".join(sentence.split()), question=question)}]


def judge_yes_no(generator: Generator, question: str, sentence: str, language: str) -> str | None:
    """"Oui"/"Non" (or "Yes"/"No") for `question` as `sentence` answers it; None when the model says neither."""
    language = language if language in _ANSWERS else "en"
    yes, no = _ANSWERS[language]
    if negated(closest_clause(question, sentence)) != negated(question):
        return no  # "n'avait reçu aucun contact" for "a-t-il reçu un contact ?": the model often misses the negation
    generation = generator.generate(polarity_messages(question, sentence, language), max_tokens=1)
    yes_lp, no_lp = generator.first_token_logprob(yes), generator.first_token_logprob(no)
    if yes_lp is None or no_lp is None:  # no logprobs (transformers): the greedy first token decides
        text = generation.text.strip().lower() if generation else ""
        return yes if text.startswith(yes.lower()[:2]) else no if text.startswith(no.lower()[:2]) else None
    return yes if yes_lp >= no_lp else no


def translate_yes_no(answer: str, source: str, target: str) -> str:
    """"Oui [2]." → "Yes [2]." without a model call: the pivot's yes/no answers need no translation."""
    source_pair, target_pair = _ANSWERS.get(source, _ANSWERS["en"]), _ANSWERS.get(target, _ANSWERS["en"])
    for word, translated in zip(source_pair, target_pair):
        if answer.lower().startswith(word.lower()):
            return translated + answer[len(word):]
    return answer


_CLAUSE_BREAK = re.compile(r"[,;:«»()]|\s(?:qui|que|qu['’]|et|mais|dont|car|who|which|that|and|but)\s", re.IGNORECASE)
_NEGATION_FR = re.compile(r"\b(?:ne|n['’]|pas|jamais|aucun|aucune|nullement|personne ne|rien ne)\b", re.IGNORECASE)
_NEGATION_EN = re.compile(r"\b(?:not|no|never|none|nothing|nobody|neither|nor)\b|n['’]t\b", re.IGNORECASE)


def negated(text: str) -> bool:
    return bool(_NEGATION_FR.search(text) or _NEGATION_EN.search(text))


def closest_clause(question: str, sentence: str) -> str:
    """The part of `sentence` between clause breaks that shares most index terms with the question."""
    asked = set(terms(question))
    clauses = [c.strip() for c in _CLAUSE_BREAK.split(sentence) if c and c.strip()]
    return max(clauses, key=lambda c: len(asked & set(terms(c))), default=sentence)
