"""Sample photography-tutorial videos with exact ground truth (stage ``corpus``).

The embedded default data of the pipeline and the fixture factory of the tests: camera-app
viewfinder runs whose framing improves from a poor to a good shot by known structural changes,
the finished photos shown full screen, transitions and distractor segments. See
``docs/corpus.md`` (what is modelled, fixtures) and ``docs/data-contracts.md`` (schema).

Public API::

    run(cfg, out)                       # the stage (aesformer.corpus.stage)
    generate_video(out, vid, seed, cfg) # one video + truth, returns VideoTruth
    make_event(seed, size)              # one event's clean poor/good photos, no video
    load_truth(path), read_manifest(path)
"""

from aesformer.corpus.generate import RenderedEvent, generate_video, make_event, video_id
from aesformer.corpus.seeds import derive_seed
from aesformer.corpus.truth import (
    SCHEMA_VERSION,
    EventTruth,
    ManifestEntry,
    VideoTruth,
    load_truth,
    read_manifest,
)
from aesformer.corpus.ui import letterbox

__all__ = [
    "SCHEMA_VERSION",
    "EventTruth",
    "ManifestEntry",
    "RenderedEvent",
    "VideoTruth",
    "derive_seed",
    "generate_video",
    "letterbox",
    "load_truth",
    "make_event",
    "read_manifest",
    "video_id",
]
