"""Prompts per language: fixed instructions and worked examples first (llama.cpp keeps that prefix in its KV cache),
then the numbered passages and the question."""
from __future__ import annotations

from dataclasses import dataclass

from rag.schema import Passage


@dataclass(frozen=True)
class PromptStyle:
    system: str
    passages_label: str
    question_label: str
    unknown: str  # what the model must say when the passages do not answer; also shown to users when abstaining
    examples: tuple[tuple[str, str, str], ...]  # (passages, question, answer)


FRENCH = PromptStyle(
    system=(
        "Tu réponds aux questions uniquement à partir des passages numérotés fournis. "
        "Réponds en français, en une seule phrase courte qui donne directement la réponse, "
        "et termine par le numéro du passage utilisé entre crochets, par exemple [2]. "
        "N'invente rien. Si les passages ne donnent pas la réponse, écris exactement : Je ne sais pas."
    ),
    passages_label="Passages :",
    question_label="Question :",
    unknown="Je ne sais pas : les documents ne contiennent pas la réponse.",
    examples=(
        (
            "[1] La tour Eiffel a été construite pour l'Exposition universelle. Elle mesure 330 mètres.\n"
            "[2] Sa construction a duré deux ans et s'est achevée en mars 1889.",
            "En quelle année la construction de la tour a-t-elle pris fin ?",
            "La construction de la tour s'est achevée en 1889 [2].",
        ),
        (
            "[1] La tour Eiffel a été construite pour l'Exposition universelle. Elle mesure 330 mètres.",
            "Combien coûte le billet d'entrée ?",
            "Je ne sais pas.",
        ),
    ),
)

ENGLISH = PromptStyle(
    system=(
        "You answer questions using only the numbered passages provided. The passages may be in another language: "
        "answer in English, in one short sentence that gives the answer directly, "
        "and end with the number of the passage you used in square brackets, for example [2]. "
        "Do not invent anything. If the passages do not give the answer, write exactly: I don't know."
    ),
    passages_label="Passages:",
    question_label="Question:",
    unknown="I don't know: the documents do not contain the answer.",
    examples=(
        (
            "[1] La tour Eiffel a été construite pour l'Exposition universelle. Elle mesure 330 mètres.\n"
            "[2] Sa construction a duré deux ans et s'est achevée en mars 1889.",
            "In what year was the tower completed?",
            "The tower was completed in 1889 [2].",
        ),
        (
            "[1] La tour Eiffel a été construite pour l'Exposition universelle. Elle mesure 330 mètres.",
            "How much does an entry ticket cost?",
            "I don't know.",
        ),
    ),
)

STYLES = {"fr": FRENCH, "en": ENGLISH}


def style_for(language: str) -> PromptStyle:
    return STYLES.get(language, ENGLISH)


def format_passages(passages: list[Passage]) -> str:
    return "\n".join(f"[{p.n}] {' '.join(p.text.split())}" for p in passages)


def _user_turn(style: PromptStyle, passages_block: str, question: str) -> str:
    return f"{style.passages_label}\n{passages_block}\n\n{style.question_label} {question}"


def build_messages(question: str, passages: list[Passage], language: str) -> list[dict[str, str]]:
    style = style_for(language)
    messages = [{"role": "system", "content": style.system}]
    for example_passages, example_question, example_answer in style.examples:
        messages.append({"role": "user", "content": _user_turn(style, example_passages, example_question)})
        messages.append({"role": "assistant", "content": example_answer})
    messages.append({"role": "user", "content": _user_turn(style, format_passages(passages), question)})
    return messages
