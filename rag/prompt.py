"""Prompts per language: fixed instructions and worked examples first (llama.cpp keeps that prefix in its KV cache),
then the numbered passages and the question."""
from __future__ import annotations

from dataclasses import dataclass

from rag.text.sanitize import for_prompt
from rag.schema import Passage


@dataclass(frozen=True)
class PromptStyle:
    system: str
    passages_label: str
    question_label: str
    unknown: str  # shown to users when abstaining
    unknown_short: str  # what the model must say when the passages do not answer
    yes_no: tuple[str, str]
    examples: tuple[tuple[str, str, str], ...]  # (passages, question, answer)


_EXAMPLE_PASSAGES = (
    "[1] Les plans de la tour ont été dessinés par les ingénieurs Maurice Koechlin et Émile Nouguier.\n"
    "[2] Sa construction a duré deux ans et s'est achevée en mars 1889.\n"
    "[3] La tour mesure 330 mètres de haut."
)

FRENCH = PromptStyle(
    system=(
        "Tu réponds aux questions uniquement à partir des passages numérotés fournis. "
        "Donne la réponse la plus courte possible, en quelques mots, en français, "
        "suivie du numéro du passage utilisé entre crochets, par exemple [2]. "
        "N'invente rien. Si les passages ne donnent pas la réponse, écris exactement : Je ne sais pas."
    ),
    passages_label="Passages :",
    question_label="Question :",
    unknown="Je ne sais pas : les documents ne contiennent pas la réponse.",
    unknown_short="Je ne sais pas.",
    yes_no=("Oui", "Non"),
    examples=(
        (_EXAMPLE_PASSAGES, "En quelle année la construction de la tour a-t-elle pris fin ?", "1889 [2]"),
        (_EXAMPLE_PASSAGES, "Qui a conçu les plans de la tour ?", "Maurice Koechlin et Émile Nouguier [1]"),
        (_EXAMPLE_PASSAGES, "Combien coûte le billet d'entrée ?", "Je ne sais pas."),
    ),
)

ENGLISH = PromptStyle(
    system=(
        "You answer questions using only the numbered passages provided. The passages may be in another language. "
        "Give the shortest possible answer, a few words, in English, "
        "followed by the number of the passage you used in square brackets, for example [2]. "
        "Do not invent anything. If the passages do not give the answer, write exactly: I don't know."
    ),
    passages_label="Passages:",
    question_label="Question:",
    unknown="I don't know: the documents do not contain the answer.",
    unknown_short="I don't know.",
    yes_no=("Yes", "No"),
    examples=(
        (_EXAMPLE_PASSAGES, "In what year was the tower completed?", "1889 [2]"),
        (_EXAMPLE_PASSAGES, "Who designed the plans of the tower?", "Maurice Koechlin and Émile Nouguier [1]"),
        (_EXAMPLE_PASSAGES, "How much does an entry ticket cost?", "I don't know."),
    ),
)

STYLES = {"fr": FRENCH, "en": ENGLISH}


def style_for(language: str) -> PromptStyle:
    return STYLES.get(language, ENGLISH)


def format_passages(passages: list[Passage]) -> str:
    return "\n".join(f"[{p.n}] {for_prompt(p.text)}" for p in passages)


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
