"""Atomic file output shared by every stage: temporary sibling + rename, hashing, clean-up,
plus the pair-folder helpers stages share (reading images, placing them into an output folder).

Every file is written to a hidden sibling ``.<stem>.partial<suffix>`` and renamed into place
only once it is complete, so an interrupted run never leaves a half file under the final name.
The suffix is kept so that writers choosing a container by extension (OpenCV's ``VideoWriter``)
see the right one. Every ``OSError`` becomes :class:`~aesformer.errors.OutputError` naming
the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from aesformer.errors import OutputError

PARTIAL_MARK = ".partial"
#: Images with more pixels than this are refused before decoding (8K is 33 Mpx): a
#: decompression bomb must not exhaust memory.
MAX_IMAGE_PIXELS = 100_000_000
#: Images with a side shorter than this carry nothing a stage can check.
MIN_IMAGE_SIDE = 8


class UnreadableImage(Exception):
    """An image file is missing, empty, cannot be decoded or lies outside its folder."""


def partial_path(path: Path) -> Path:
    """The temporary sibling that :func:`atomic_path` writes before renaming to ``path``."""
    return path.with_name(f".{path.stem}{PARTIAL_MARK}{path.suffix}")


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) or raise :class:`OutputError` naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    return path


def discard(path: Path) -> None:
    """Delete a temporary file if it exists; failures are ignored (there is nothing to keep)."""
    with suppress(OSError):
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to ``path``, else delete it.

    The parent folder is created if needed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        discard(tmp)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        discard(tmp)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_png(path: Path, image: np.ndarray) -> None:
    """Encode a BGR ``uint8`` image as PNG (deterministic bytes) and write it atomically."""
    import cv2  # lazily: the CLI imports this module and must start fast

    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise OutputError(f"{path}: PNG encoding failed")
    write_bytes(path, buf.tobytes())


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Write one compact JSON object per line, atomically."""
    write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def remove(path: Path) -> None:
    """Delete a file or folder tree if it exists; :class:`OutputError` when that fails."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot remove stale output ({exc.strerror or exc})") from None


def remove_partials(folder: Path) -> None:
    """Delete temporary files an interrupted run left in ``folder`` (not recursive)."""
    if folder.is_dir():
        for leftover in folder.glob(f".*{PARTIAL_MARK}*"):
            remove(leftover)


def read_bgr(path: Path) -> np.ndarray:
    """Decode ``path`` as a 3-channel BGR ``uint8`` image or raise :class:`UnreadableImage`."""
    return _read_image(path, gray=False)


def read_gray(path: Path) -> np.ndarray:
    """Decode ``path`` as a one-channel ``uint8`` image (e.g. a mask) or raise
    :class:`UnreadableImage`."""
    return _read_image(path, gray=True)


def _read_image(path: Path, gray: bool) -> np.ndarray:
    import cv2  # lazily, as in write_png

    if not path.is_file():
        raise UnreadableImage(f"{path}: not found")
    data = np.fromfile(path, dtype=np.uint8)
    if not data.size:
        raise UnreadableImage(f"{path}: empty file")
    _check_image(path, data.tobytes())
    flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    image = cv2.imdecode(data, flag)
    if image is None or image.size == 0:
        raise UnreadableImage(f"{path}: cannot decode image")
    return image


def _check_image(path: Path, data: bytes) -> None:
    """Refuse, before the real decode, an image that Pillow finds truncated, too small or
    with more than :data:`MAX_IMAGE_PIXELS` pixels (read from the header, so a decompression
    bomb is never decoded). Formats Pillow cannot identify are left to OpenCV."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UnreadableImage(
                    f"{path}: {width}x{height} pixels is over the {MAX_IMAGE_PIXELS} limit"
                )
            if min(width, height) < MIN_IMAGE_SIDE:
                raise UnreadableImage(
                    f"{path}: {width}x{height} pixels is below the {MIN_IMAGE_SIDE}-pixel minimum"
                )
            img.load()
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(f"{path}: too many pixels ({exc})") from None
    except UnidentifiedImageError:
        return
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"{path}: truncated or corrupt image ({exc})") from None


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing absolute paths and paths that leave ``root``
    (:class:`UnreadableImage`)."""
    path = (root / relative).resolve()
    if Path(relative).is_absolute() or not path.is_relative_to(root.resolve()):
        raise UnreadableImage(f"{relative}: image path outside the pairs folder")
    return path


def place_files(relatives: Iterable[str | None], src_root: Path, out: Path, link: bool) -> None:
    """Hard-link (or copy) files of ``src_root`` into ``out`` at the same relative paths.

    ``None`` entries and missing source files are skipped (optional images); each file is
    placed atomically (a hidden temporary sibling renamed into place); a destination that is
    already a link to the source is left alone.
    """
    for relative in relatives:
        if relative is None:
            continue
        src = inside(src_root, relative)
        if not src.is_file():
            continue
        dst = out / relative
        if link and dst.is_file() and os.path.samefile(src, dst):
            continue  # already linked by an earlier run (renaming onto it would be a no-op)
        tmp = dst.with_name(f".{dst.name}{PARTIAL_MARK}")
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            if link:
                try:
                    os.link(src, tmp)
                except OSError:
                    shutil.copy2(src, tmp)
            else:
                shutil.copy2(src, tmp)
            os.replace(tmp, dst)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{dst}: cannot place image ({exc.strerror or exc})") from None
