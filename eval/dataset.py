"""Gold sets: a docs folder plus a JSONL of
`{id, question, answers?[], evidence?[] or doc_id?, answerable?, lang?, type?}`.

- `evidence`: exact substrings of the gold document (or of any document when no doc_id is given); each is resolved
  to every place it occurs, as (doc_id, start, end) spans. A chunk or citation is relevant when it overlaps one.
- `doc_id`: the gold document; matched against the indexed ids with or without their suffix
  (`piaf_a009_p00` finds `piaf_a009_p00.txt`). When it is not in the docs folder, `article_id` is tried
  (PIAF's qa.jsonl run against docs_art/).
- `answerable` defaults to whether answers, evidence or doc_id are given; `lang` to the question's detected
  language; `type` to the article's category when an `articles.jsonl` lies beside the gold file, else "general"
  ("unanswerable" for unanswerable items).
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator


class DatasetError(ValueError):
    """A gold set or docs folder that cannot be used; the message is one readable line."""


@dataclass
class GoldItem:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    doc_id: str | None = None
    answerable: bool = True
    lang: str = "fr"
    type: str = "general"
    article_id: str | None = None
    # resolved against the docs folder
    gold_docs: list[str] = field(default_factory=list)
    gold_spans: list[tuple[str, int, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _as_str_list(value, what: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{where}: '{what}' must be a list of strings")
    return value


def _detect(text: str) -> str:
    from rag.text.lang import detect_language

    return detect_language(text)


def _categories(gold_path: Path) -> dict[str, str]:
    path = gold_path.parent / "articles.jsonl"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            out[str(row["article_id"])] = str(row.get("category") or "general")
        except (ValueError, KeyError, TypeError):
            continue
    return out


def load_gold(path: Path) -> list[GoldItem]:
    """Parse and validate a gold JSONL; a problem raises DatasetError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such gold file")
    categories = _categories(path)
    items: list[GoldItem] = []
    seen: set[str] = set()
    for where, row in json_lines(path):
        item = item_from_row(row, where, categories)
        if item.id in seen:
            raise DatasetError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: no questions")
    return items


def json_lines(path: Path) -> Iterator[tuple[str, dict]]:
    """("file:line", object) for each non-blank line of a JSONL file; a line that is not a JSON object raises."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{where}: expected a JSON object")
            yield where, row


def item_from_row(row: dict, where: str, categories: dict[str, str] | None = None) -> GoldItem:
    """One gold question from its JSON object; a problem raises DatasetError naming `where`."""
    item_id, question = row.get("id"), row.get("question")
    if item_id is None or not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: every line needs an 'id' and a non-empty 'question'")
    answers = _as_str_list(row.get("answers"), "answers", where)
    evidence = _as_str_list(row.get("evidence"), "evidence", where)
    doc_id = row.get("doc_id")
    answerable = row.get("answerable")
    if answerable is None:
        answerable = bool(answers or evidence or doc_id)
    if not isinstance(answerable, bool):
        raise DatasetError(f"{where}: 'answerable' must be true or false")
    if not answerable and (answers or evidence):
        raise DatasetError(f"{where}: an unanswerable item cannot have answers or evidence")
    article_id = row.get("article_id")
    kind = row.get("type") or ("unanswerable" if not answerable else (categories or {}).get(str(article_id), "general"))
    return GoldItem(
        id=str(item_id), question=question.strip(), answers=answers, evidence=evidence,
        doc_id=str(doc_id) if doc_id else None, answerable=answerable,
        lang=str(row.get("lang") or _detect(question)), type=str(kind),
        article_id=str(article_id) if article_id else None,
    )


def load_docs(docs_dir: Path) -> dict[str, str]:
    """{doc_id: text}, with the same ids and text the indexer stores (index.ingest)."""
    from index.document import IngestError
    from index.ingest import load_documents

    docs_dir = Path(docs_dir)
    if not docs_dir.is_dir():
        raise DatasetError(f"{docs_dir}: no such docs folder")
    try:
        return {d.doc_id: d.text for d in load_documents([docs_dir])}
    except IngestError as exc:
        raise DatasetError(str(exc)) from None


def _stem(doc_id: str) -> str:
    name = doc_id.rsplit("/", 1)[-1]
    head = doc_id[: len(doc_id) - len(name)]
    return head + (name.rsplit(".", 1)[0] if "." in name else name)


def resolve(items: list[GoldItem], docs: dict[str, str]) -> list[GoldItem]:
    """Fill gold_docs and gold_spans; raise DatasetError when a reference or evidence string is not found."""
    by_stem: dict[str, str] = {}
    for doc_id in docs:
        by_stem.setdefault(_stem(doc_id), doc_id)

    def find_doc(ref: str | None) -> str | None:
        if not ref:
            return None
        return ref if ref in docs else by_stem.get(_stem(ref))

    for item in items:
        if not item.answerable:
            continue
        gold = find_doc(item.doc_id) or find_doc(item.article_id)
        if (item.doc_id or item.article_id) and gold is None:
            raise DatasetError(f"item {item.id}: document {item.doc_id or item.article_id!r} is not in the docs folder")
        item.gold_docs = [gold] if gold else []
        spans = []
        for text in item.evidence:
            where = item.gold_docs or list(docs)
            found = [(d, i, i + len(text)) for d in where for i in _occurrences(docs[d], text)]
            if not found:
                raise DatasetError(f"item {item.id}: evidence {text[:60]!r} does not occur verbatim in {', '.join(where[:3])}")
            spans.extend(found)
        item.gold_spans = spans
        if not item.gold_docs and spans:
            item.gold_docs = sorted({d for d, _, _ in spans})
    return items


def _occurrences(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i != -1 and needle:
        out.append(i)
        i = text.find(needle, i + 1)
    return out


def sample(items: list[GoldItem], n: int, seed: int) -> list[GoldItem]:
    """n items drawn reproducibly, stratified by (lang, answerable) so small samples keep both kinds; gold order."""
    if n >= len(items):
        return list(items)
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault((item.lang, item.answerable), []).append(i)
    quotas = {g: n * len(ids) / len(items) for g, ids in sorted(groups.items())}
    take = {g: int(q) for g, q in quotas.items()}
    for g in sorted(quotas, key=lambda g: (-(quotas[g] - take[g]), g))[: n - sum(take.values())]:
        take[g] += 1
    rng = random.Random(seed)
    chosen = [i for g, ids in sorted(groups.items()) for i in rng.sample(ids, take[g])]
    return [items[i] for i in sorted(chosen)]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def docs_signature(docs_dir: Path) -> str:
    """Changes when a file under docs_dir is added, removed, resized or touched."""
    digest = hashlib.sha256(str(Path(docs_dir).resolve()).encode())
    for f in sorted(Path(docs_dir).rglob("*")):
        if f.is_file():
            st = f.stat()
            digest.update(f"{f.relative_to(docs_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
