"""An upload into a full disk, through a real server: 507 with the reason, and the previous index keeps serving.
Under RLIMIT_FSIZE everywhere; on a filled tmpfs too where this test may mount one (root)."""
import shutil

import pytest

from api.diskfull import can_mount_tmpfs, disk_full_drill
from api.testing import plain_line


def _check(figures: dict, cause: str) -> None:
    assert figures["failed"] == 0, figures
    for attempt in figures["attempts"]:
        assert attempt["status"] == 507 and attempt["state_unchanged"] and attempt["leftovers"] == 0
        assert plain_line(attempt["detail"]) and "index_write.cpp" not in attempt["detail"]
    assert cause in figures["attempts"][0]["detail"]
    assert figures["search_while_full"] == 200 and figures["upload_with_room_again"] == 201
    assert figures["documents_at_the_end"] == figures["documents_before"] + 1


def test_a_file_size_limit_gets_507_and_the_previous_index_keeps_serving(seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    figures = disk_full_drill(index, tmp_path, mode="rlimit")
    _check(figures, "file too large; the previous index is unchanged")
    assert figures["attempts"][1]["detail"].startswith("cannot receive the upload: file too large")  # spooled part


def test_a_full_tmpfs_gets_507_and_the_previous_index_keeps_serving(seed_index, tmp_path):
    probe = tmp_path / "probe"
    if not can_mount_tmpfs(probe):
        pytest.skip("mounting a tmpfs needs root")
    import subprocess

    subprocess.run(["umount", str(probe)], check=True)
    figures = disk_full_drill(seed_index, tmp_path, mode="tmpfs")
    _check(figures, "disk full; the previous index is unchanged")


def test_plain_line_rejects_library_internals():
    assert plain_line("cannot write the index to /x/index: disk full; the previous index is unchanged")
    assert not plain_line("Error in void faiss::write_index(const Index*, IOWriter*) at /project/faiss/faiss/impl/"
                          "index_write.cpp:499: Error: 'ret == (size * 4)' failed: write error in /x/vectors.faiss")
    assert not plain_line("Traceback (most recent call last):")
    assert not plain_line("[Errno 28] No space left on device: '/x/index/.tmp-3'")
    assert not plain_line("two\nlines") and not plain_line(" ")
