import pytest

from index.ingest import IngestError, discover, load_documents, validate_doc_id


def test_folder_doc_ids_are_relative(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Titre\nTexte.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Bonjour.", encoding="utf-8")
    (tmp_path / "skip.bin").write_bytes(b"\x00\x01")
    assert [d for _, d in discover([tmp_path])] == ["a.txt", "sub/b.md"]


def test_text_is_kept_exactly(tmp_path):
    raw = "Ligne\u00a0un  \r\n\tdeux — «trois»\n".encode("utf-8")
    (tmp_path / "a.txt").write_bytes(raw)
    (doc,) = load_documents([tmp_path / "a.txt"])
    assert doc.text == raw.decode("utf-8")


@pytest.mark.parametrize(
    "content, message",
    [(b"\xff\xfe\x00a\x00b", "binary"), (b"caf\xe9 au lait", "UTF-8"), (b"  \n", "empty")],
)
def test_bad_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        load_documents([path])


def test_missing_path_and_unsupported_type(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        load_documents([tmp_path / "nope.txt"])
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(IngestError, match="unsupported"):
        load_documents([tmp_path / "x.docx"])


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/abs.txt", "a/../b.txt", ""])
def test_path_like_doc_ids_are_refused(bad):
    with pytest.raises(IngestError):
        validate_doc_id(bad)


def test_files_over_the_size_limit_are_refused_before_being_read(tmp_path):
    from index.ingest import TooLarge

    (tmp_path / "big.txt").write_bytes(b"Le phare. " * 2000)
    with pytest.raises(TooLarge, match=r"20,000 bytes; the limit for one document is 1,000 \(RAG_MAX_UPLOAD_BYTES\)"):
        load_documents([tmp_path / "big.txt"], max_bytes=1000)
    assert load_documents([tmp_path / "big.txt"], max_bytes=20_000)[0].doc_id == "big.txt"


def test_a_path_too_long_for_the_file_system_is_one_short_line(tmp_path):
    with pytest.raises(IngestError) as refused:
        load_documents([tmp_path / ("n" * 10_000 + ".txt")])
    assert "File name too long" in str(refused.value) and len(str(refused.value)) < 200
