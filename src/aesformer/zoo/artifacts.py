"""What every model folder of the zoo shares: safetensors only, ``build_info.json``, atomic writes.

- :func:`staged_folder` builds into a sibling temporary folder and swaps it in only when the
  build succeeded, so an output folder is never half-written nor mixed with stale files;
- :func:`write_build_info` records the config, parameter counts, library versions and a content
  hash; it holds no timestamps or durations, so the same build is byte-identical (DVC sees no
  change on a re-run);
- :func:`require_safetensors` refuses a local folder that holds pickle weights (``.bin``,
  ``.pt``...) and no safetensors, before any loader could unpickle them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from aesformer.errors import InputError

BUILD_INFO = "build_info.json"
#: Distributions whose versions are recorded: they decide the bytes of a build.
RECORDED_LIBRARIES = ("torch", "transformers", "diffusers", "tokenizers", "safetensors")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def is_local(path_or_id: str | Path) -> bool:
    """True for an existing local folder, false for a hub id such as ``Qwen/Qwen3-VL-8B-Instruct``."""
    return Path(path_or_id).expanduser().is_dir()


def revision_kwargs(revision: str | None) -> dict[str, str]:
    """``from_pretrained`` keyword for a hub revision; none when it is not pinned."""
    return {} if revision is None else {"revision": revision}


def require_safetensors(folder: Path, subfolders: Iterable[str] = ("",)) -> None:
    """Raise :class:`InputError` if a weights folder has pickle weights but no safetensors."""
    for name in subfolders:
        where = folder / name
        pickles = sorted(p.name for p in where.glob("*") if p.suffix in PICKLE_SUFFIXES)
        if pickles and not any(where.glob("*.safetensors")):
            raise InputError(
                f"{where}: only pickle weights ({', '.join(pickles)}); refusing to load them, "
                "convert the checkpoint to safetensors"
            )


def count_parameters(module: torch.nn.Module) -> int:
    """Number of parameters (tied weights counted once)."""
    return sum(p.numel() for p in module.parameters())


def library_versions() -> dict[str, str]:
    """Installed versions of :data:`RECORDED_LIBRARIES`."""
    return {name: metadata.version(name) for name in RECORDED_LIBRARIES}


def folder_digest(folder: Path, exclude: Iterable[str] = (BUILD_INFO,)) -> str:
    """SHA-256 over the relative paths and bytes of every file under ``folder``, in path order."""
    skipped = set(exclude)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in skipped:
            continue
        digest.update(rel.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def folder_bytes(folder: Path) -> int:
    """Total size in bytes of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_build_info(folder: Path, info: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``build_info.json`` (``info`` + library versions + content hash); return it."""
    record = {**info, "libraries": library_versions(), "content_sha256": folder_digest(folder)}
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    (folder / BUILD_INFO).write_text(text, encoding="utf-8")
    return record


@contextmanager
def staged_folder(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``final``; on success it replaces ``final``.

    On an exception the temporary folder is removed and ``final`` is left as it was.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary shared folder
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
