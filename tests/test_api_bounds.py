"""Oversized inputs against a real server (and `rag index`): a 50 MB text, a 2,000-page PDF, HTML nested 10,000
deep, a 10,000-character file name and doc_id. Each ends in bounded time with success or a 4xx and one line; the
figures (time, peak RSS) are printed (pytest -s shows them)."""
import json
import shutil

from api.bounds import bounds_drill


def test_oversized_inputs_end_in_bounded_time_with_success_or_one_line_4xx(seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    figures = bounds_drill(index, tmp_path, timeout=300)
    print(json.dumps(figures["summary"], indent=1, ensure_ascii=False))
    cases = {c["name"]: c for c in figures["cases"]}
    assert figures["failed"] == 0, figures["summary"]
    assert cases["50 MB text, rag index"]["status"] == "exit 2"
    assert "52,428,800 bytes; the limit for one document is 10,485,760 (RAG_MAX_UPLOAD_BYTES)" in cases["50 MB text, rag index"]["detail"]
    assert cases["50 MB text, POST /v1/documents"]["status"] == 413
    assert cases["50 MB text, POST /v1/documents"]["seconds"] < 30  # refused from its Content-Length, not read
    assert cases["PDF of 2,000 pages"]["status"] == 201
    assert cases["HTML nested 10,000 deep"]["status"] == 201
    assert cases["file name of 10,000 characters"]["status"] == 413
    assert cases["doc_id of 10,000 characters"]["status"] == 422
    assert "10,000 characters long; the limit is 255" in cases["doc_id of 10,000 characters"]["detail"]
