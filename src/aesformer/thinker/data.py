"""The release's Stage 1(a) data as TRL prompt/completion rows with images.

A release (``docs/release.md``) holds, per training split, a LLaMA-Factory ShareGPT file
``jsons/<split>/Stage1_a/<split>.json``: the user turn is ``<image>`` + the planner instruction,
the assistant turn the tagged plan, ``images`` the poor photo (path relative to the release).
:func:`load_examples` reads it; :func:`build_dataset` turns it into the rows TRL's
``SFTTrainer`` trains on with ``completion_only_loss`` (the loss covers the plan only)::

    {"prompt": [{"role": "user", "content": <instruction>}],
     "completion": [{"role": "assistant", "content": <plan>}],
     "images": [<PIL image>]}

TRL's vision collator puts the image placeholder in front of the user text (one per image), so
the ``<image>`` marker of the LLaMA-Factory text is removed here.

Images are resized once, here, to sides that are multiples of 32 px (Qwen3-VL: 16 px patches,
2x2 merge) with an area in ``[min_pixels, max_pixels]``; :func:`configure_processor` sets the
same bounds on the image processor's ``size`` so it does not resize again (the
``max_pixels=...`` keyword of ``from_pretrained`` can be silently ignored). No truncation ever
happens (``max_length=None``: cutting a sequence can cut image tokens); an example longer than
``cutoff_tokens`` is dropped and counted instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from transformers.image_utils import SizeDict

from aesformer.errors import InputError
from aesformer.release import layout

#: Qwen3-VL: 16 px patches merged 2x2 into one image token.
PATCH_SIZE = 16
MERGE_SIZE = 2
FACTOR = PATCH_SIZE * MERGE_SIZE
#: The image placeholder of LLaMA-Factory's ShareGPT format.
IMAGE_MARKER = "<image>"


@dataclass(frozen=True)
class Example:
    """One Stage1_a example: the poor photo, the instruction and the reference plan."""

    image: str  # path relative to the release root
    prompt: str  # the planner instruction (without the <image> marker)
    plan: str  # the tagged reference plan

    @property
    def name(self) -> str:
        """The image file name (``<pair_id>.png``): identifies the example."""
        return Path(self.image).name


def load_examples(release_dir: Path, split: str) -> list[Example]:
    """The Stage1_a examples of ``split`` (``train`` or ``val``) of a release folder."""
    path = Path(release_dir) / layout.sft_file(split)
    if not path.is_file():
        raise InputError(f"{path}: not found (not a release folder, or no {split} split?)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read Stage1_a JSON ({exc})") from None
    examples = []
    for i, row in enumerate(rows):
        where = f"{path}[{i}]"
        try:
            messages = {m["role"]: m["content"] for m in row["messages"]}
            images = row["images"]
            user, plan = messages["user"], messages["assistant"]
        except (KeyError, TypeError):
            raise InputError(f"{where}: need messages (user, assistant) and images") from None
        if len(images) != 1 or user.count(IMAGE_MARKER) != 1:
            raise InputError(f"{where}: need exactly one image and one {IMAGE_MARKER} marker")
        image = images[0]
        if not (Path(release_dir) / image).is_file():
            raise InputError(f"{where}: image {image} not found in the release")
        examples.append(Example(image, user.replace(IMAGE_MARKER, "", 1).strip(), plan))
    return examples


def fit_size(width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) rounded to multiples of 32 px with an area in ``[min, max]_pixels``,
    keeping the aspect ratio as well as rounding allows (Qwen's ``smart_resize`` rule)."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    w = max(FACTOR, round(width / FACTOR) * FACTOR)
    h = max(FACTOR, round(height / FACTOR) * FACTOR)
    if w * h > max_pixels:
        beta = math.sqrt(width * height / max_pixels)
        w = max(FACTOR, math.floor(width / beta / FACTOR) * FACTOR)
        h = max(FACTOR, math.floor(height / beta / FACTOR) * FACTOR)
    elif w * h < min_pixels:
        beta = math.sqrt(min_pixels / (width * height))
        w = math.ceil(width * beta / FACTOR) * FACTOR
        h = math.ceil(height * beta / FACTOR) * FACTOR
    return w, h


def load_image(path: Path | str, min_pixels: int, max_pixels: int) -> Image.Image:
    """An RGB image resized with :func:`fit_size` (bicubic)."""
    with Image.open(path) as img:
        image = img.convert("RGB")
    size = fit_size(image.width, image.height, min_pixels, max_pixels)
    return image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)


def image_tokens(image: Image.Image) -> int:
    """Merged image tokens of an image whose sides are multiples of 32 px."""
    return (image.width // FACTOR) * (image.height // FACTOR)


def configure_processor(processor: Any, min_pixels: int, max_pixels: int) -> Any:
    """Set the image processor's pixel bounds (its ``size``), the form it actually reads."""
    processor.image_processor.size = SizeDict(shortest_edge=min_pixels, longest_edge=max_pixels)
    return processor


def prompt_messages(prompt: str) -> list[dict[str, Any]]:
    """The user turn (text only; the image placeholder is added by the collator / caller)."""
    return [{"role": "user", "content": prompt}]


def inference_messages(image: Image.Image, prompt: str) -> list[dict[str, Any]]:
    """The user turn with the image, for ``processor.apply_chat_template`` at generation."""
    return [
        {
            "role": "user",
            "content": [{"type": "image", "image": image}, {"type": "text", "text": prompt}],
        }
    ]


def to_row(example: Example, image: Image.Image) -> dict[str, Any]:
    """One TRL prompt/completion row (conversational, one image)."""
    return {
        "prompt": prompt_messages(example.prompt),
        "completion": [{"role": "assistant", "content": example.plan}],
        "images": [image],
    }


def sequence_tokens(processor: Any, example: Example, image: Image.Image) -> int:
    """Tokens of the whole example as trained (chat template text + the image's tokens)."""
    messages = [
        *inference_messages(image, example.prompt),
        {"role": "assistant", "content": example.plan},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    # the template writes one <|image_pad|>; the processor expands it to the image's tokens
    return (
        len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])
        - 1
        + image_tokens(image)
    )


def build_rows(
    release_dir: Path,
    split: str,
    processor: Any,
    min_pixels: int,
    max_pixels: int,
    cutoff_tokens: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows of ``split`` and counts (``examples``, ``dropped_too_long``, ``max_tokens``)."""
    rows, dropped, longest = [], 0, 0
    for example in load_examples(release_dir, split):
        image = load_image(Path(release_dir) / example.image, min_pixels, max_pixels)
        tokens = sequence_tokens(processor, example, image)
        if cutoff_tokens is not None and tokens > cutoff_tokens:
            dropped += 1
            continue
        longest = max(longest, tokens)
        rows.append(to_row(example, image))
    return rows, {"examples": len(rows), "dropped_too_long": dropped, "max_tokens": longest}


def build_dataset(
    release_dir: Path,
    split: str,
    processor: Any,
    min_pixels: int,
    max_pixels: int,
    cutoff_tokens: int | None = None,
) -> tuple[Any, dict[str, int]]:
    """:func:`build_rows` as a ``datasets.Dataset`` (images stored as an Image feature)."""
    from datasets import Dataset

    rows, counts = build_rows(release_dir, split, processor, min_pixels, max_pixels, cutoff_tokens)
    if not rows:
        raise InputError(f"{release_dir}: no {split} example fits cutoff_tokens={cutoff_tokens}")
    return Dataset.from_list(rows), counts
