"""Cross-lingual retrieval: the generator translates an English question into the corpus language (French) so
that BM25 and sentence selection can match the documents' words. Both versions are searched and fused."""
from __future__ import annotations

import re

from rag.models.base import Generator
from rag.text.months import english_date
from rag.text.numbers import number_keys, only_numbers
from rag.text.sanitize import for_prompt

_SYSTEM = "Translate the user's question into French. Output only the French question, nothing else."
_EXAMPLES = (
    ("When was the tower completed?", "Quand la tour a-t-elle été achevée ?"),
    ("Who signed the agreement with Moscow?", "Qui a signé l'accord avec Moscou ?"),
)


def _few_shot(system: str, examples: tuple[tuple[str, str], ...], text: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}]
    for source, target in examples:
        messages += [{"role": "user", "content": source}, {"role": "assistant", "content": target}]
    messages.append({"role": "user", "content": text})
    return messages


def translation_messages(question: str) -> list[dict[str, str]]:
    return _few_shot(_SYSTEM, _EXAMPLES, question)


def translate_question(generator: Generator, question: str, max_tokens: int = 48) -> str | None:
    """The French version of `question`, or None when the output is unusable (empty, runaway, unchanged, or a
    statement where a question was asked: "Despite what is… growing?" once came back as "Bien qu'il y ait…")."""
    return usable_translation(question, generator.generate(translation_messages(question), max_tokens, stop=["\n"]).text)


def usable_translation(question: str, output: str) -> str | None:
    text = re.sub(r"^(?:french|traduction)\s*:\s*", "", output.strip(), flags=re.IGNORECASE).strip().strip('"«» ')
    if not text or len(text) > 3 * len(question) + 20 or text.lower() == question.lower():
        return None
    if question.rstrip().endswith("?") and not text.endswith("?"):
        return None
    return text


_ANSWER_SYSTEM = "Translate the user's French text into English. Output only the English translation, nothing else."
_ANSWER_EXAMPLES = (
    ("En mars 1889", "In March 1889"),
    ("Maurice Koechlin et Émile Nouguier", "Maurice Koechlin and Émile Nouguier"),
    ("plus de deux heures", "more than two hours"),
)


def answer_translation_messages(french: str) -> list[dict[str, str]]:
    # The answer may repeat document text (the model's words, or the source's wording of a number).
    return _few_shot(_ANSWER_SYSTEM, _ANSWER_EXAMPLES, for_prompt(french))


def fixed_translation(french: str) -> str | None:
    """The English of an answer that needs no model: numbers as they are, a French date by the calendar ("Le 17
    janvier" -> "January 17"). None for anything else."""
    text = french.strip()
    return text if only_numbers(text) else english_date(text)


def translate_answer(generator: Generator, french: str, max_tokens: int = 64) -> str | None:
    """English version of a short verified French answer; None if the translation loses or adds a number."""
    text = generator.generate(answer_translation_messages(french), max_tokens, stop=["\n"]).text.strip()
    if not text or len(text) > 3 * len(french) + 20:
        return None
    return text if sorted(number_keys(text)) == sorted(number_keys(french)) else None
