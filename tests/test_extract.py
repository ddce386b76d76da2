"""Text extraction for uploads: HTML through BeautifulSoup, PDF through pypdf, refusals as one-line IngestErrors."""
import pytest

from api.testing import minimal_pdf
from index.extract import document_from_text, document_from_upload, extract_html, extract_pdf, kind_of
from index.document import IngestError


PAGE = """<!doctype html><html><head><title>Le gazoduc</title><style>p{color:red}</style>
<script>var secret = "do not index";</script></head>
<body><nav><a href="/">Accueil</a> | <a href="/x">Menu</a></nav>
<main><h1>Le gazoduc</h1><p>La livraison doit <b>débuter</b> en 2019.</p>
<p>Le contrat court sur&nbsp;30 ans.<br>Il a été signé à Pékin.</p>
<ul><li>Premier point</li><li>Second point</li></ul><!-- a comment --></main>
<footer>© 2024 Mentions légales</footer></body></html>"""


def test_html_keeps_visible_text_in_blocks():
    text = extract_html(PAGE.encode("utf-8"))
    assert text.splitlines()[0] == "Le gazoduc"
    assert "La livraison doit débuter en 2019." in text
    assert "Le contrat court sur\u00a030 ans.\nIl a été signé à Pékin." in text
    assert "Premier point\nSecond point" in text
    for hidden in ("secret", "do not index", "color:red", "Accueil", "Mentions", "a comment"):
        assert hidden not in text


def test_html_title_first_when_body_lacks_it_and_charset_is_honoured():
    raw = '<html><head><meta charset="iso-8859-1"><title>Rapport</title></head><body><p>Été chaud.</p></body></html>'
    assert extract_html(raw.encode("latin-1")) == "Rapport\n\nÉté chaud."


@pytest.mark.parametrize("raw", [b"", b"   ", b"<html><head><title></title></head><body><script>x</script></body></html>"])
def test_html_without_text_is_refused(raw):
    with pytest.raises(IngestError):
        extract_html(raw, "empty.html")


def test_pdf_text_is_extracted_page_by_page():
    raw = minimal_pdf(["Le gazoduc Power of Siberia.\nLivraisons en 2019.", "Second page (fin)."])
    text = extract_pdf(raw, "doc.pdf")
    assert "Power of Siberia" in text and "Livraisons en 2019." in text
    assert text.index("Second page (fin).") > text.index("2019")
    assert "\n\n" in text


@pytest.mark.parametrize(
    "raw, reason",
    [
        (minimal_pdf([""]), "no text layer"),
        (b"%PDF-1.4\n garbage that is not a pdf", "unreadable PDF"),
        (b"hello, not a pdf", "not a PDF"),
        (b"", "empty"),
    ],
)
def test_bad_pdfs_are_refused_with_a_reason(raw, reason):
    with pytest.raises(IngestError, match=reason):
        extract_pdf(raw, "x.pdf")


def test_kind_from_suffix_then_media_type():
    assert kind_of("a.TXT") == kind_of("b.md") == "text"
    assert kind_of("page.htm") == kind_of("blob", "text/html; charset=utf-8") == "html"
    assert kind_of("x.pdf") == kind_of("upload", "application/pdf") == "pdf"
    with pytest.raises(IngestError, match="unsupported file type"):
        kind_of("photo.png", "image/png")


@pytest.mark.parametrize(
    "raw, filename, doc_id, reason",
    [
        (b"caf\xe9 cr\xe8me", "latin1.txt", None, "not valid UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image.txt", None, "binary"),
        (b"", "empty.txt", None, "empty"),
        (b"hello", "a.txt", "../../etc/passwd", "invalid doc_id"),
        (b"hello", "../../etc/passwd", None, "invalid doc_id"),
        (b"hello", "/etc/passwd.txt", None, "invalid doc_id"),
        (minimal_pdf([""]), "scan.pdf", None, "no text layer"),
    ],
)
def test_bad_uploads_are_refused(raw, filename, doc_id, reason):
    with pytest.raises(IngestError, match=reason):
        document_from_upload(raw, filename, doc_id)


def test_upload_and_json_documents():
    doc = document_from_upload("Bonjour à tous.".encode(), "notes/a.md")
    assert (doc.doc_id, doc.text, doc.source) == ("notes/a.md", "Bonjour à tous.", "upload:a.md")
    doc = document_from_upload(minimal_pdf(["Hello PDF"]), "report.pdf", doc_id="reports/2024.pdf")
    assert doc.doc_id == "reports/2024.pdf" and doc.text == "Hello PDF"
    assert document_from_text("x", "\ufeffText").text == "Text"
    for bad_id, text in (("../x", "t"), ("ok", "  "), ("ok", "a\x00b"), ("ok", "bad \ud800 surrogate"), ("\ud800", "t")):
        with pytest.raises(IngestError):
            document_from_text(bad_id, text)


def test_html_nested_10000_deep_is_extracted_without_recursion():
    raw = b"<html><body>" + b"<div>" * 10_000 + "Le phare est au fond.".encode() + b"</div>" * 10_000 + b"</body></html>"
    assert extract_html(raw, "deep.html") == "Le phare est au fond."


def test_a_2000_page_pdf_is_extracted_and_page_and_time_limits_refuse_with_the_setting_named():
    from index.extract import ExtractLimits
    from index.document import TooLarge

    raw = minimal_pdf([f"Page {i}. La digue {i} fut achevée en {1800 + i % 200}." for i in range(2000)])
    text = extract_pdf(raw, "registre.pdf")
    assert text.count("La digue") == 2000 and "La digue 1999 fut achevée en 1999." in text
    with pytest.raises(TooLarge, match=r"2,000 pages; the limit is 1,000 \(RAG_MAX_PDF_PAGES\)"):
        extract_pdf(raw, "registre.pdf", ExtractLimits(max_pdf_pages=1000))
    with pytest.raises(TooLarge, match=r"took over 0 s \(RAG_MAX_EXTRACT_SECONDS\)"):
        extract_pdf(raw, "registre.pdf", ExtractLimits(max_seconds=0))
    with pytest.raises(TooLarge, match="RAG_MAX_EXTRACT_SECONDS"):
        extract_html(b"<p>x</p>" * 10, "page.html", ExtractLimits(max_seconds=0))


def test_a_10000_character_file_name_gets_one_short_line():
    with pytest.raises(IngestError) as refused:
        document_from_upload(b"Le phare.", "n" * 9996 + ".txt")
    message = str(refused.value)
    assert "10,000 characters long; the limit is 255" in message and len(message) < 200
