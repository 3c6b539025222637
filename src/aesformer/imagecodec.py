"""Images as model inputs and outputs: paths, base64 text (or ``data:`` URIs), bytes, PIL.

Shared by the registered models' pyfunc wrappers (``aesthinker``, ``aeseditor``): their
``image`` columns hold a file path or base64 PNG/JPEG, and the editor answers base64 PNG.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from typing import Any

from PIL import Image

from aesformer.errors import InputError


def decode_image(value: Any) -> Image.Image:
    """An RGB image from a path, base64 text (optionally a data URI), bytes or a PIL image;
    :class:`InputError` naming the value or file otherwise."""
    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str | os.PathLike):
        text = str(value)
        if os.path.isfile(text):
            try:
                with Image.open(text) as img:
                    return img.convert("RGB")
            except OSError as exc:
                raise InputError(f"{text}: not a readable image ({exc})") from None
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"image: {text[:60]!r} is neither a file nor base64 data") from None
    else:
        raise InputError(f"image: unsupported value of type {type(value).__name__}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except OSError as exc:
        raise InputError(f"image: cannot decode ({exc})") from None


def encode_png(image: Image.Image) -> str:
    """Base64 PNG text of an image (what an ``image`` column may hold)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
