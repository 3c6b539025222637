"""Where things live in a release folder (the AesRecon layout plus this project's manifest).

One definition shared by the exporter (:mod:`aesformer.release.export`), the importer
(:mod:`aesformer.release.aesrecon`) and the publisher (:mod:`aesformer.release.version`);
described in ``docs/release.md``::

    <release>/
    ├── manifest.parquet                      one row per pair (this project's addition)
    ├── images/good_images/<pair_id><ext>     the good photos
    ├── images/poor_images/<pair_id><ext>     the poor photos
    └── jsons/
        ├── dataset_info.json                 LLaMA-Factory registry of the Stage1_a files
        ├── train/Stage1_a/train.json         SFT: LLaMA-Factory ShareGPT multimodal (JSON array)
        ├── train/Stage1_b/train.jsonl        GRPO: EasyR1 prompt / answer / images (JSON lines)
        ├── train/Stage2/metadata.jsonl       editor: musubi-tuner image_path / control_path / caption
        ├── val/{Stage1_a/val.json, Stage1_b/val.jsonl, Stage2/metadata.jsonl}
        └── test/test_mapping.json            {good image name: poor image name}
                 planner_input.json           what the planner is asked on the test set
                 reference_plans.json         {poor image name: plan text} (pairs with a plan)

Every path written into a JSON file is relative to the release root (``images/...``).
"""

from __future__ import annotations

import re

SPLITS: tuple[str, ...] = ("train", "val", "test")
#: Splits exported as training data (Stage1_a / Stage1_b / Stage2 files each).
TRAINING_SPLITS: tuple[str, ...] = ("train", "val")

MANIFEST = "manifest.parquet"
IMAGES = "images"
GOOD_DIR = "images/good_images"
POOR_DIR = "images/poor_images"
JSONS = "jsons"
DATASET_INFO = "jsons/dataset_info.json"
TEST_DIR = "jsons/test"
TEST_MAPPING = "jsons/test/test_mapping.json"
PLANNER_INPUT = "jsons/test/planner_input.json"
REFERENCE_PLANS = "jsons/test/reference_plans.json"

#: A pair id that is safe as a file name (uuid5 ids and AesRecon stems both are).
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def sft_file(split: str) -> str:
    """Stage 1(a) SFT file of a training split (a JSON array)."""
    return f"jsons/{split}/Stage1_a/{split}.json"


def grpo_file(split: str) -> str:
    """Stage 1(b) GRPO file of a training split (JSON lines)."""
    return f"jsons/{split}/Stage1_b/{split}.jsonl"


def editor_file(split: str) -> str:
    """Stage 2 editor metadata of a training split (JSON lines)."""
    return f"jsons/{split}/Stage2/metadata.jsonl"


def good_path(name: str) -> str:
    """Release-relative path of a good image file name."""
    return f"{GOOD_DIR}/{name}"


def poor_path(name: str) -> str:
    """Release-relative path of a poor image file name."""
    return f"{POOR_DIR}/{name}"


def sft_dataset_name(split: str) -> str:
    """Name of a Stage1_a file in ``jsons/dataset_info.json``."""
    return f"aesrecon_stage1a_{split}"
