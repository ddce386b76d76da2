"""/v1/documents on a real server over a writable copy of the seed index: uploads of every supported type,
list/read/replace/delete, limits, bad uploads refused with the index left intact, and no citation of a deleted
document."""
import httpx
import pytest

from api.testing import minimal_pdf, running_server
from index.store import IndexStore

SEED_ID = "000_c35498bb09d10278.txt"
FACT = "Le chat de la bibliothécaire Mireille Vautrin s'appelle Zanzibar. Il est arrivé à la bibliothèque en 2011."
LIMIT_BYTES = 60_000
LIMIT_DOCS = 6


@pytest.fixture(scope="module")
def server(seed_index, tmp_path_factory):
    import shutil

    index = tmp_path_factory.mktemp("docs") / "index"
    shutil.copytree(seed_index, index)
    env = {"RAG_MAX_UPLOAD_BYTES": str(LIMIT_BYTES), "RAG_MAX_DOCUMENTS": str(LIMIT_DOCS)}
    with running_server(index, env=env) as s:
        s.index_dir = index
        yield s


def _docs(server) -> dict:
    body = httpx.get(f"{server.base}/v1/documents", timeout=10).json()
    return {d["doc_id"]: d for d in body["documents"]}


def _on_disk(server) -> tuple[int, set[str]]:
    store = IndexStore.open(server.index_dir)
    return store.generation, set(store.docs)


def test_upload_every_type_then_list_read_replace(server):
    html = ("<html><head><title>Notes</title><script>var x='caché';</script></head><body>"
            "<h1>Le port</h1><p>Le phare de Kerbrat mesure 47 mètres.</p></body></html>").encode()
    uploads = [
        ("files", ("notes/phare.html", html, "text/html")),
        ("files", ("rapport.pdf", minimal_pdf(["La digue de Port-Vauban fut achevée en 1893."]), "application/pdf")),
        ("files", ("lisez-moi.md", "# Titre\n\nLa marée haute est à 14 h 05.".encode(), "text/markdown")),
    ]
    for _, (name, raw, media) in uploads:
        r = httpx.post(f"{server.base}/v1/documents", files={"file": (name, raw, media)}, timeout=60)
        assert r.status_code == 201, r.text
        assert r.json()["doc_id"] == name and r.json()["chunks"] >= 1 and r.json()["status"] == "added"
    r = httpx.post(f"{server.base}/v1/documents", files={"file": ("brut.txt", b"texte", "text/plain")},
                   data={"doc_id": "renamed/notes.txt"}, timeout=60)
    assert r.status_code == 201 and r.json()["doc_id"] == "renamed/notes.txt"

    docs = _docs(server)
    assert {SEED_ID, "notes/phare.html", "rapport.pdf", "lisez-moi.md", "renamed/notes.txt"} <= set(docs)
    assert docs["rapport.pdf"]["source"] == "upload:rapport.pdf"
    page = httpx.get(f"{server.base}/v1/documents/notes/phare.html", timeout=10).json()
    assert "Le phare de Kerbrat mesure 47 mètres." in page["text"] and "caché" not in page["text"]
    assert page["chars"] == len(page["text"])
    pdf = httpx.get(f"{server.base}/v1/documents/rapport.pdf", timeout=10).json()
    assert "achevée en 1893" in pdf["text"]
    assert _on_disk(server)[1] == set(_docs(server))  # persisted, not only in memory

    # Replacing: the same doc_id with new text is 200 "replaced"; the same text again is "unchanged".
    r = httpx.post(f"{server.base}/v1/documents", json={"doc_id": "renamed/notes.txt", "text": "Nouveau texte."}, timeout=60)
    assert r.status_code == 200 and r.json()["status"] == "replaced"
    r = httpx.post(f"{server.base}/v1/documents", json={"doc_id": "renamed/notes.txt", "text": "Nouveau texte."}, timeout=60)
    assert r.status_code == 200 and r.json()["status"] == "unchanged"
    assert httpx.get(f"{server.base}/v1/documents/renamed/notes.txt", timeout=10).json()["text"] == "Nouveau texte."
    assert httpx.delete(f"{server.base}/v1/documents/renamed/notes.txt", timeout=60).status_code == 200
    assert httpx.get(f"{server.base}/v1/documents/renamed/notes.txt", timeout=10).status_code == 404
    assert httpx.delete(f"{server.base}/v1/documents/renamed/notes.txt", timeout=60).status_code == 404


BAD_UPLOADS = [
    ("non-UTF-8 text", {"files": {"file": ("latin1.txt", "café crème".encode("latin-1"), "text/plain")}}, 422, "UTF-8"),
    ("binary renamed .txt", {"files": {"file": ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "text/plain")}}, 422, "binary"),
    ("empty file", {"files": {"file": ("vide.txt", b"", "text/plain")}}, 422, "empty"),
    ("PDF without text", {"files": {"file": ("scan.pdf", minimal_pdf([""]), "application/pdf")}}, 422, "no text layer"),
    ("not really a PDF", {"files": {"file": ("faux.pdf", b"just words", "application/pdf")}}, 422, "not a PDF"),
    ("path-like doc_id (JSON)", {"json": {"doc_id": "../../etc/passwd", "text": "root:x:0:0"}}, 422, "invalid doc_id"),
    ("path-like doc_id (form)", {"files": {"file": ("a.txt", b"hello", "text/plain")}, "data": {"doc_id": "../../etc/passwd"}}, 422, "invalid doc_id"),
    ("path-like file name", {"files": {"file": ("../../etc/passwd", b"root:x:0:0", "text/plain")}}, 422, "invalid doc_id"),
    ("absolute doc_id", {"json": {"doc_id": "/etc/passwd", "text": "x"}}, 422, "invalid doc_id"),
    ("blank JSON text", {"json": {"doc_id": "blank.txt", "text": "   \n"}}, 422, "empty"),
    ("JSON without text", {"json": {"doc_id": "x.txt"}}, 422, "text"),
    ("unsupported type", {"files": {"file": ("image.png", b"\x89PNG....", "image/png")}}, 422, "unsupported file type"),
    ("no file part", {"files": {"other": ("a.txt", b"hello", "text/plain")}}, 422, "file"),
    ("other media type", {"content": b"doc_id=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415, "multipart"),
    ("file over the limit", {"files": {"file": ("big.txt", b"a " * LIMIT_BYTES, "text/plain")}}, 413, "limit"),
    ("JSON text over the limit", {"json": {"doc_id": "big.txt", "text": "b " * LIMIT_BYTES}}, 413, "limit"),
]


@pytest.mark.parametrize("case, request_args, status, reason", BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_uploads_get_a_4xx_with_a_reason_and_the_index_stays_intact(server, case, request_args, status, reason):
    before_disk, before_live = _on_disk(server), _docs(server)
    r = httpx.post(f"{server.base}/v1/documents", timeout=60, **request_args)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert reason.lower() in str(detail).lower()
    assert _on_disk(server) == before_disk and _docs(server) == before_live
    assert httpx.get(f"{server.base}/v1/documents/{SEED_ID}", timeout=10).status_code == 200


def test_document_count_limit_is_413(server):
    room = LIMIT_DOCS - len(_docs(server))
    added = []
    for i in range(room):
        r = httpx.post(f"{server.base}/v1/documents", json={"doc_id": f"fill/{i}.txt", "text": f"Remplissage {i}."}, timeout=60)
        assert r.status_code == 201
        added.append(f"fill/{i}.txt")
    r = httpx.post(f"{server.base}/v1/documents", json={"doc_id": "one-too-many.txt", "text": "De trop."}, timeout=60)
    assert r.status_code == 413 and "RAG_MAX_DOCUMENTS" in r.json()["detail"]
    # Replacing an existing document is not adding one.
    r = httpx.post(f"{server.base}/v1/documents", json={"doc_id": added[0], "text": "Remplacé."}, timeout=60)
    assert r.status_code == 200
    for doc_id in added:
        assert httpx.delete(f"{server.base}/v1/documents/{doc_id}", timeout=60).status_code == 200


def test_a_question_after_a_delete_never_cites_the_deleted_document(server):
    r = httpx.post(f"{server.base}/v1/documents", files={"file": ("chats/zanzibar.txt", FACT.encode(), "text/plain")}, timeout=60)
    assert r.status_code == 201
    question = {"question": "Comment s'appelle le chat de Mireille Vautrin ?", "top_k": 3}
    found = httpx.post(f"{server.base}/v1/search", json={"query": question["question"]}, timeout=30).json()
    assert found["passages"][0]["doc_id"] == "chats/zanzibar.txt"

    assert httpx.delete(f"{server.base}/v1/documents/chats/zanzibar.txt", timeout=60).status_code == 200
    after = httpx.post(f"{server.base}/v1/ask", json=question, timeout=180)
    assert after.status_code == 200
    body = after.json()
    assert all(p["doc_id"] != "chats/zanzibar.txt" for p in body["passages"])
    assert all(c["doc_id"] != "chats/zanzibar.txt" for c in body["citations"])
    assert "Zanzibar" not in body["answer"]
    searched = httpx.post(f"{server.base}/v1/search", json={"query": "Zanzibar Mireille Vautrin chat"}, timeout=30).json()
    assert all(p["doc_id"] != "chats/zanzibar.txt" for p in searched["passages"])
    assert "chats/zanzibar.txt" not in _on_disk(server)[1]
