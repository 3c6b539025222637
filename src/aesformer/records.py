"""Records that cross stage boundaries, and their JSON-lines I/O.

Stages meet only at files; these models are those files' schemas (documented in
``docs/data-contracts.md``). Readers validate every line and report the file and line number
of a bad one; writers are atomic (a temporary file renamed into place), so a reader never sees
a half-written file.

- :class:`PairRecord` — one (poor, good) photo pair: written by ``mine`` (``pairs.jsonl``),
  extended by ``align`` (``alignment``) and ``annotate`` (``plan``, ``plan_text``, ``teacher``,
  ``teacher_version``) and ``split`` (``split``), read by later stages;
- :class:`RejectRecord` — a dropped candidate or a failed input, with the stage and a short
  reason code (``rejects.jsonl``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aesformer.errors import InputError
from aesformer.fileio import write_text as atomic_write_text

SCHEMA_VERSION = 1
#: Namespace of deterministic pair ids: uuid5(PAIR_NAMESPACE, f"{video_sha256}:{good_time_ms}").
PAIR_NAMESPACE = uuid.UUID("6f1d3c1e-6a52-5d1b-9b8e-2f6a7c0d4e11")


class Record(BaseModel):
    """Base: unknown fields are errors, so a schema drift is caught where it starts."""

    model_config = ConfigDict(extra="forbid")


class Alignment(Record):
    """What ``align`` measured between the poor and the good image of a pair."""

    passed: bool
    scene_inlier_ratio: float = Field(ge=0, le=1, description="RANSAC inliers / matches")
    global_similarity: float = Field(ge=-1, le=1, description="global appearance similarity")
    person_match: bool = Field(description="the same person is found in both images")
    new_objects: int = Field(ge=0, description="regions of the good image with no counterpart")
    homography: list[list[float]] | None = Field(
        None, description="3x3 poor->good homography (normalised [0,1] coordinates)"
    )
    reasons: list[str] = Field(default_factory=list, description="failed checks' reason codes")
    scores: dict[str, float] = Field(default_factory=dict)


class PairRecord(Record):
    """One mined (poor, good) pair; image paths are relative to the folder of the jsonl file."""

    schema_version: int = SCHEMA_VERSION
    pair_id: str
    video_id: str
    video_sha256: str
    event_index: int = Field(ge=0)
    poor_time_s: float = Field(ge=0)
    good_time_s: float = Field(ge=0)
    poor_image: str
    good_image: str
    poor_raw_image: str | None = Field(None, description="viewfinder crop before overlay removal")
    poor_mask_image: str | None = Field(
        None,
        description="mask PNG of poor_image: 255 where pixels were reconstructed (inpainted "
        "overlays), so later checks compare only observed pixels",
    )
    narration: str = ""
    scores: dict[str, float] = Field(default_factory=dict)
    checks: dict[str, bool] = Field(default_factory=dict)
    alignment: Alignment | None = None
    plan: dict[str, str] | None = Field(
        None, description="annotate: {dimension key: action} in plan order (aesformer.plans)"
    )
    plan_text: str | None = Field(None, description="annotate: the plan in the tagged format")
    teacher: str | None = Field(None, description="annotate: name of the teacher that wrote it")
    teacher_version: str | None = Field(None, description="annotate: teacher rules / model id")
    split: Literal["train", "val", "test"] | None = Field(
        None, description="split: the dataset split of the pair's video"
    )

    def image_files(self) -> tuple[str, ...]:
        """Every image file the record names (relative paths): what a stage that passes the
        pair on must place next to its ``pairs.jsonl``."""
        optional = (self.poor_raw_image, self.poor_mask_image)
        return (self.poor_image, self.good_image, *(f for f in optional if f))


class RejectRecord(Record):
    """A dropped candidate or a failed input: which stage dropped it and why."""

    stage: str
    reason: str = Field(description="short code, e.g. corrupt_video, no_events, text_residue")
    video_id: str | None = None
    source: str | None = Field(None, description="input file or URI")
    event_index: int | None = None
    time_s: float | None = None
    pair_id: str | None = None
    detail: str = ""

    @classmethod
    def bad_line(cls, stage: str, path: Path, number: int, error: str) -> RejectRecord:
        """The ``bad_record`` reject of a JSONL line (``source`` = ``file:line``), as
        :func:`read_jsonl_lenient` reports it."""
        return cls(stage=stage, reason="bad_record", source=f"{path}:{number}", detail=error)


def pair_id(video_sha256: str, good_time_s: float) -> str:
    """Deterministic pair id: uuid5 of the video's sha256 and the good frame's time (ms)."""
    return str(uuid.uuid5(PAIR_NAMESPACE, f"{video_sha256}:{round(good_time_s * 1000)}"))


M = TypeVar("M", bound=BaseModel)


def read_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Validate and yield each line; a bad line raises :class:`InputError` naming file:line."""
    for number, item in read_jsonl_lenient(path, model):
        if isinstance(item, str):
            raise InputError(f"{path}:{number}: {item}")
        yield item


def read_jsonl_lenient(path: Path, model: type[M]) -> Iterator[tuple[int, M | str]]:
    """Yield ``(line number, record)`` per line, or ``(line number, error)`` for a bad line.

    Unlike :func:`read_jsonl`, a bad line does not stop the reading: the caller records it
    (e.g. as a reject naming ``file:line``) and goes on. A missing file is an :class:`InputError`.
    """
    if not path.is_file():
        raise InputError(f"{path}: not found")
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, f"<line>: not valid UTF-8 ({exc.reason} at byte {exc.start})"
                continue
            if not line.strip():
                continue
            try:
                yield number, model.model_validate_json(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                key = ".".join(str(p) for p in first["loc"]) or "<line>"
                yield number, f"{key}: {first['msg']}"


def write_jsonl(path: Path, records: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Atomically write records as JSON lines; return how many were written."""
    lines = [
        r.model_dump_json() if isinstance(r, BaseModel) else json.dumps(r, sort_keys=True)
        for r in records
    ]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)
