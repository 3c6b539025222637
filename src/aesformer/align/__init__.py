"""Stage ``align``: keep only (poor, good) pairs that show the same scene and the same person
and whose good image adds no new object (the VCMP alignment check).

Public API::

    run(cfg, pairs_dir, out)            # the stage (aesformer.align.stage)
    align_pair(poor, good, cfg, faces)  # one pair of BGR images -> records.Alignment

See ``docs/align.md`` for the checks, their parameters and reason codes.
"""

from aesformer.align.check import Reason, align_pair
from aesformer.align.person import PersonDetector
from aesformer.align.stage import run
from aesformer.faces import FaceCascadeDetector

__all__ = ["FaceCascadeDetector", "PersonDetector", "Reason", "align_pair", "run"]
