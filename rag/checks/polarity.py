"""Yes/no questions: telling them from wh-questions, and judging their answer again on the one sentence it cites.

Given the full prompt, the small models answer "Oui"/"Yes" to most yes/no questions, even when the passage says
"n'avait reçu aucun contact". Asked about that one sentence alone, the model sees its polarity much better.
The verdict is the likelier of the two first tokens (yes vs no), except where the clause of the sentence closest to
the question is negated and the question is not (or the reverse): then it is "no", the case the model gets wrong most.
"""
from __future__ import annotations

import re

from rag.models.base import Generator
from rag.prompt import style_for
from rag.text.sanitize import for_prompt
from rag.text.textnorm import fold, terms

_YES_NO_FR = re.compile(r"^(?:est-ce que|est-ce qu)|-t-(?:il|elle|on)\b|\b\w+-(?:il|elle|ils|elles|on)\b")
_YES_NO_EN = re.compile(r"^(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must)\b")
# A question word opens a wh-question ("À quelle date…", "Qui a-t-il vu ?"); later it is a relative ("l'appel que…").
_LEADING_PREPOSITIONS = re.compile(r"^(?:(?:a|de|d|en|pour|par|dans|sur|depuis|avec|selon|in|on|at|for|from|to|by|with|since)[\s']+)+")
_WH = re.compile(
    r"\b(?:qui|que|quoi|qu|quel|quelle|quels|quelles|quand|ou|comment|combien|pourquoi|lequel|laquelle|"
    r"who|what|which|when|where|how|why|whom|whose)\b"
)


def is_yes_no_question(question: str) -> bool:
    folded = fold(question).strip()
    if _WH.match(_LEADING_PREPOSITIONS.sub("", folded)) or re.match(r"qu['’]\w", question.strip().lower()):
        return False  # fold() drops the elided "qu'" of "qu'est-ce que", "qu'appelle-t-on"
    if _YES_NO_EN.search(folded):
        return True
    inverted = _YES_NO_FR.search(folded)
    # "Le long de quoi le cessez-le-feu serait-il…", "Hormis X, quel sujet ont-ils…": a question word before the
    # inverted verb makes it a wh-question; after it, it is a relative ("l'appel que CNN disait").
    return bool(inverted) and not _WH.search(folded[:inverted.start()])


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
    return [{"role": "user", "content": template.format(sentence=for_prompt(sentence), question=question)}]


def judge_yes_no(generator: Generator, question: str, sentence: str, language: str) -> str | None:
    """"Oui"/"Non" (or "Yes"/"No") for `question` as `sentence` answers it; None when the model says neither."""
    yes, no = style_for(language).yes_no
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
    for word, translated in zip(style_for(source).yes_no, style_for(target).yes_no):
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
