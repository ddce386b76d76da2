from index.chunk import ChunkerConfig, SentenceChunker, approx_token_counter
from index.document import Document
from index.sentences import sentence_spans


def test_sentence_spans_keep_abbreviations_and_offsets(seed_text):
    spans = sentence_spans(seed_text)
    texts = [seed_text[s:e] for s, e in spans]
    assert any(t.startswith("MM. Poutine et Xi ont également discuté") for t in texts)  # "MM." is no sentence end
    assert texts[0] == "Le Kremlin révèle le contenu des discussions entre Poutine et Xi Jinping"
    assert all(t == t.strip() and t for t in texts)


def test_chunks_round_trip_offsets_and_respect_token_limit(seed_text, embedder):
    chunker = SentenceChunker(ChunkerConfig(max_tokens=120, overlap_tokens=60), embedder.count_tokens)
    chunks = chunker.run(Document("a.txt", seed_text))
    assert len(chunks) > 3
    for c in chunks:
        assert seed_text[c.start : c.end] == c.text
        assert embedder.count_tokens(c.text) <= 120
    # Every sentence of the document lies inside some chunk, and consecutive chunks overlap or touch.
    for s, e in sentence_spans(seed_text):
        assert any(c.start <= s and e <= c.end for c in chunks)
    assert all(b.start <= a.end + 2 for a, b in zip(chunks, chunks[1:]))
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:])), "expected sentence overlap"


def test_chunk_ids_are_content_hashes():
    doc = Document("x.md", "Une phrase. Une autre phrase.")
    a = SentenceChunker(ChunkerConfig(8, 2)).run(doc)
    b = SentenceChunker(ChunkerConfig(8, 2)).run(doc)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    changed = SentenceChunker(ChunkerConfig(8, 2)).run(Document("x.md", "Une phrase. Une autre phrase !"))
    assert changed[-1].chunk_id != a[-1].chunk_id


def test_overlong_sentence_is_split_on_words():
    text = "mot " * 300 + "fin."
    chunks = SentenceChunker(ChunkerConfig(50, 10), approx_token_counter).run(Document("long.txt", text))
    assert len(chunks) > 5
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert chunks[-1].text.endswith("fin.")
