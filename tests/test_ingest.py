import pytest

from api.testing import minimal_pdf
from index.document import IngestError, validate_doc_id
from index.extract import document_from_upload
from index.ingest import discover, load_documents


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
    from index.document import TooLarge

    (tmp_path / "big.txt").write_bytes(b"Le phare. " * 2000)
    with pytest.raises(TooLarge, match=r"20,000 bytes; the limit for one document is 1,000 \(RAG_MAX_UPLOAD_BYTES\)"):
        load_documents([tmp_path / "big.txt"], max_bytes=1000)
    assert load_documents([tmp_path / "big.txt"], max_bytes=20_000)[0].doc_id == "big.txt"


def test_a_path_too_long_for_the_file_system_is_one_short_line(tmp_path):
    with pytest.raises(IngestError) as refused:
        load_documents([tmp_path / ("n" * 10_000 + ".txt")])
    assert "File name too long" in str(refused.value) and len(str(refused.value)) < 200


PAGE = """<html><head><meta charset="utf-8"><title>Le port</title><script>var secret = "ne pas indexer";</script>
</head><body><h1>Le port</h1><p>Le port a été agrandi en 1998.</p></body></html>"""


def test_a_folder_of_every_type_reads_like_uploads(tmp_path):
    files = {
        "a.txt": "Bonjour.\n".encode("utf-8"),
        "b.html": PAGE.encode("utf-8"),
        "c.pdf": minimal_pdf(["Le phare mesure 47 mètres.", "Seconde page."]),
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    docs = load_documents([tmp_path])
    assert [d.doc_id for d in docs] == ["a.txt", "b.html", "c.pdf"] and docs.skipped == []
    for doc in docs:
        assert doc.text == document_from_upload(files[doc.doc_id], doc.doc_id).text
    html = docs[1].text
    assert "Le port a été agrandi en 1998." in html and "secret" not in html and "ne pas indexer" not in html
    assert "47 mètres" in docs[2].text


def test_unsupported_files_in_a_folder_are_skipped_and_listed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_text("# Titre\nTexte.", encoding="utf-8")
    (tmp_path / "sub" / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / ".hidden.docx").write_bytes(b"PK")  # hidden: ignored without a word, as before
    docs = load_documents([tmp_path])
    assert [d.doc_id for d in docs] == ["a.md"]
    assert docs.skipped == ["sub/notes.docx"]


def test_a_folder_without_supported_files_names_what_it_skipped(tmp_path):
    for n in range(7):
        (tmp_path / f"f{n}.docx").write_bytes(b"PK")
    with pytest.raises(IngestError) as refused:
        load_documents([tmp_path])
    line = str(refused.value)
    assert "no supported files" in line and ".html" in line and ".pdf" in line
    assert "skipped 7 unsupported files: f0.docx, f1.docx, f2.docx, f3.docx, f4.docx and 2 more" in line
    assert "\n" not in line


def test_an_unsupported_file_named_explicitly_lists_the_supported_types(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(IngestError, match=r"x\.png: unsupported file type \(supported: .*\.html.*\.pdf\)"):
        load_documents([tmp_path / "x.png"])
