"""The ground-truth contract of the corpus (``truth/<video_id>.json``, ``manifest.jsonl``).

Pydantic models are the single definition of the schema (documented field by field in
``docs/data-contracts.md``); later stages read the files back with :func:`load_truth` and
:func:`read_manifest`. Conventions: frame ``i`` of a video is shown at ``i / fps`` seconds and
is the ``i``-th frame of the decoded stream (0-based); every interval is ``[start, end)`` with
``start_s = start_frame / fps`` and ``end_s = end_frame / fps``. Boxes ``[x0, y0, x1, y1]``
are normalised to the photo (0..1, end exclusive) unless their name says ``px``.

Fields added after schema version 1 was published are listed in ``OMIT_IF_DEFAULT`` of their
model: they are left out of the JSON while they hold their default, so files of a corpus that
does not use the feature are byte-identical to those written before the field existed, and
older files read back with the default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from aesformer.errors import InputError

SCHEMA_VERSION = 1
TIME_DIGITS = 6


class Contract(BaseModel):
    """Base of the truth models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    OMIT_IF_DEFAULT: ClassVar[frozenset[str]] = frozenset()
    """Optional fields that are not serialised while they equal their default."""

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.OMIT_IF_DEFAULT and isinstance(data, dict):
            fields = type(self).model_fields
            for name in self.OMIT_IF_DEFAULT:
                if getattr(self, name) == fields[name].default:
                    data.pop(name, None)
        return data


class Interval(Contract):
    """Frames ``[start_frame, end_frame)`` and the same interval in seconds."""

    start_s: float
    end_s: float
    start_frame: int = Field(ge=0)
    end_frame: int = Field(ge=0)

    @classmethod
    def of(cls, start: int, end: int, fps: int) -> Interval:
        return cls(
            start_s=seconds(start, fps), end_s=seconds(end, fps), start_frame=start, end_frame=end
        )


class NarrationLine(Interval):
    """A burned-in subtitle line and the change it describes."""

    text: str
    change: str


class CameraTruth(Contract):
    """Full virtual-camera parameters of a clean photo (see ``aesformer.corpus.camera``)."""

    aspect: Literal["16:9", "4:3", "3:4", "1:1"]
    roll_deg: float
    subject_height: float
    subject_x: float
    subject_y: float
    yaw_deg: float
    pitch_deg: float
    blur_sigma: float
    gain: float
    wb_shift: float
    photo_width: int
    photo_height: int
    distance_m: float


class CameraPair(Contract):
    """The cameras of the poor and of the good clean photo."""

    poor: CameraTruth
    good: CameraTruth


class SubjectTruth(Contract):
    """The photographed subject and where it is in the two clean photos."""

    kind: Literal["figure", "photo"]
    source: str
    pronoun: Literal["her", "him"]
    real_height_m: float
    pose_poor: str | None
    pose_good: str | None
    box_poor: list[float] = Field(min_length=4, max_length=4)
    box_good: list[float] = Field(min_length=4, max_length=4)
    anchor_world_px: list[float] = Field(min_length=4, max_length=4)


class SceneTruth(Contract):
    """A summary of the world (the backdrop both photos are taken from)."""

    OMIT_IF_DEFAULT: ClassVar[frozenset[str]] = frozenset({"backdrop"})

    palette: str
    ground: str
    horizon: float
    world_width: int
    world_height: int
    buildings: int
    trees: int
    backdrop: str = "drawn"
    """``drawn`` (the drawn sky, hills and ground), or the scikit-image photo the world is."""


class ShakeTruth(Contract):
    """Hand-shake of the viewfinder run: peak position jitter (photo heights) and roll."""

    amplitude: float
    roll_deg: float


class EventTruth(Contract):
    """One shooting event: the viewfinder run and the finished photo shown full screen."""

    index: int
    viewfinder: Interval
    good: Interval
    poor_clean_image: str
    good_clean_image: str
    poor_frame: int
    poor_frame_time_s: float
    poor_preview_box_px: list[int] = Field(min_length=4, max_length=4)
    good_display_box_px: list[int] = Field(min_length=4, max_length=4)
    changes: dict[str, dict[str, Any]]
    camera: CameraPair
    subject: SubjectTruth
    scene: SceneTruth
    shake: ShakeTruth
    narration: list[NarrationLine]
    transition_in: Literal["cut", "fade"]
    transition_out: Literal["cut", "fade"]


class DistractorTruth(Interval):
    """A segment that is not an event (title card, b-roll, before/after comparison)."""

    kind: Literal["title_card", "broll", "before_after"]
    event: int | None = None
    source: str | None = None
    text: str | None = None


class TransitionTruth(Interval):
    """The join between two consecutive segments (a cut is an empty interval)."""

    kind: Literal["cut", "crossfade", "fade_black"]


class VideoTruth(Contract):
    """Everything known about one generated video."""

    OMIT_IF_DEFAULT: ClassVar[frozenset[str]] = frozenset({"ui_style", "real_footage"})

    schema_version: int = SCHEMA_VERSION
    video_id: str
    seed: int
    fps: int
    width: int
    height: int
    n_frames: int
    duration_s: float
    codec: str
    noise_sigma: float
    ui_style: Literal["classic", "pro"] = "classic"
    """Camera-app look of the viewfinder frames (``mixed`` corpora record the drawn style)."""
    real_footage: bool = False
    """Whether b-roll plays real clips and events may use real-photo backdrops / cut-outs."""
    events: list[EventTruth]
    distractors: list[DistractorTruth]
    transitions: list[TransitionTruth]

    def to_json(self) -> str:
        """Canonical JSON text (indented, key order of the schema, trailing newline)."""
        return self.model_dump_json(indent=2) + "\n"


class ManifestEntry(Contract):
    """One line of ``manifest.jsonl``."""

    video_id: str
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    duration_s: float
    fps: int
    width: int
    height: int
    n_frames: int


def seconds(frame: int, fps: int) -> float:
    """Time of frame boundary ``frame``, rounded to microseconds."""
    return round(frame / fps, TIME_DIGITS)


def load_truth(path: Path) -> VideoTruth:
    """Read and validate a ``truth/<video_id>.json`` file."""
    try:
        return VideoTruth.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read truth file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise InputError(f"{path}: invalid truth file ({exc})") from None


def read_manifest(path: Path) -> list[ManifestEntry]:
    """Read and validate ``manifest.jsonl``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read manifest ({exc.strerror or exc})") from None
    entries = []
    for n, line in enumerate(lines, 1):
        try:
            entries.append(ManifestEntry.model_validate(json.loads(line)))
        except ValueError as exc:
            raise InputError(f"{path}:{n}: invalid manifest line ({exc})") from None
    return entries
