"""The teacher interface: one pair (record, both images, narration) in, plan text out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from aesformer.annotate.measure import Measurements
from aesformer.annotate.rules import Expectation
from aesformer.records import PairRecord


class TeacherError(Exception):
    """The teacher could not produce any text for a pair (e.g. the endpoint kept failing)."""


@dataclass(frozen=True)
class PlanRequest:
    """What a teacher gets for one pair.

    ``poor`` / ``good`` are BGR ``uint8`` images; ``measurements`` / ``expected`` what the
    stage measured (the validator's ground); ``feedback`` the validator's complaints about the
    previous attempt (None on the first attempt).
    """

    pair: PairRecord
    poor: np.ndarray
    good: np.ndarray
    narration: str
    measurements: Measurements
    expected: dict[str, Expectation]
    feedback: str | None = None


class Teacher(Protocol):
    """Writes the tagged plan text for a pair; ``name`` / ``version`` go on the record."""

    name: str

    @property
    def version(self) -> str: ...

    def write_plan(self, request: PlanRequest) -> str: ...
