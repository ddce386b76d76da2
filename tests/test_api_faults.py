"""The server killed with SIGKILL during uploads, replacements and deletes through the API (a bounded version of
`python -m api.faults crash --trials 20`): after each restart the state is exactly the one before or after the
write, the start-up sweep leaves no orphan folder, and retrying the cut write gives the same doc_id and result."""
import json
import shutil

from api.faults import crash_drill


def test_sigkill_during_document_writes_never_loses_or_corrupts_the_index(seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    figures = crash_drill(index, trials=6, seed=21)
    print(json.dumps({k: v for k, v in figures.items() if k != "per_trial"}, indent=1))
    assert figures["trials"] == 6 and figures["corrupt"] == 0
    assert figures["state_before"] + figures["state_after"] == 6
    assert figures["orphans_after_restart"] == 0 and figures["max_generation_folders"] <= 2
    assert figures["retries_with_same_result"] == 6 and figures["restored"] == 6
    assert figures["kills_that_left_leftovers"] >= 1  # at least one kill landed mid-write, and was swept
