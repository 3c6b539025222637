"""Stage ``annotate``: a ground-truth seven-dimension action plan for every aligned pair.

Public API::

    run(cfg, pairs_dir, out)                 # the stage (aesformer.annotate.stage)
    measure_pair(poor, good, H, narration, cfg, locator) -> Measurements
    expectations(measurements, cfg), validate(text, expected) -> Verdict
    GeometricTeacher, OpenAITeacher          # teachers behind the Teacher protocol

See ``docs/annotate.md`` for the plan format, the teachers, the validation rules and the
reason codes.
"""

from aesformer.annotate.geometric import GeometricTeacher
from aesformer.annotate.measure import Measurements, measure_pair
from aesformer.annotate.rules import Verdict, expectations, validate
from aesformer.annotate.stage import Reason, TeacherUnavailable, make_teacher, run
from aesformer.annotate.subject import FaceOrSaliencyLocator, SubjectLocator
from aesformer.annotate.teacher import PlanRequest, Teacher, TeacherError

__all__ = [
    "FaceOrSaliencyLocator",
    "GeometricTeacher",
    "Measurements",
    "PlanRequest",
    "Reason",
    "SubjectLocator",
    "Teacher",
    "TeacherError",
    "TeacherUnavailable",
    "Verdict",
    "expectations",
    "make_teacher",
    "measure_pair",
    "run",
    "validate",
]
