"""rag/stopwatch.py: stages record only inside profiled(), into the record of the context that runs them."""
import threading

from rag.stopwatch import keep, note, profiled, stage


def test_stages_outside_a_profile_record_nothing():
    with stage("retrieve"):
        pass
    note("tokens.prompt", 3)
    with profiled() as record:
        pass
    assert record == {}


def test_stages_add_up_and_notes_count():
    with profiled() as record:
        for _ in range(2):
            with stage("verify"):
                sum(range(1000))
        note("tokens.prompt", 3)
        note("tokens.prompt", 4)
        keep("generation", "kept")
    assert set(record) == {"verify", "tokens.prompt", "generation"}
    assert record["verify"] > 0 and record["tokens.prompt"] == 7 and record["generation"] == "kept"


def test_a_stage_that_raises_is_still_recorded():
    with profiled() as record:
        try:
            with stage("generate"):
                raise ValueError
        except ValueError:
            pass
    assert "generate" in record


def test_threads_keep_their_own_records():
    seen = {}

    def worker():
        with profiled() as record:
            note("calls", 1)
        seen["worker"] = record

    with profiled() as mine:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        note("calls", 5)
    assert mine == {"calls": 5} and seen["worker"] == {"calls": 1}
