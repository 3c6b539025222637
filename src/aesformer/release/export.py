"""Build a release folder from the gated split folder: manifest, images, AesRecon-shaped JSONs.

Input ``split_dir`` (written by ``split``, passed by the data-quality gate): ``pairs.jsonl``
(:class:`~aesformer.records.PairRecord` with ``split`` and, for train/val, ``plan`` and
``plan_text``), images at paths relative to the folder. Output ``out``: the layout of
:mod:`aesformer.release.layout` (see ``docs/release.md``).

The folder is built in a hidden sibling (``.<name>.partial``) and renamed into place when
complete, so a reader never sees half a release and a failed build leaves the previous one.
The output is deterministic: pairs sorted by id, JSON with sorted keys, the same input gives
byte-identical files.

Bad input is an :class:`~aesformer.errors.InputError` that lists every problem (up to ten) with
``pairs.jsonl:<line>`` and the pair id: a line that is not a ``PairRecord``, a pair without a
split, a train/val pair without a plan, a plan text that does not parse, a missing image
(named), a duplicate or unsafe pair id. Test pairs may have no plan (evaluation needs only the
photos); train and val pairs are training targets and must.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aesformer.config import ReleaseConfig
from aesformer.errors import InputError, OutputError
from aesformer.fileio import UnreadableImage, inside, sha256_file
from aesformer.fileio import write_text as atomic_write_text
from aesformer.plans import DIMENSION_KEYS, PLANNER_INSTRUCTION, PLANNER_PROMPT, plan_problem
from aesformer.records import PairRecord, read_jsonl_lenient
from aesformer.release import layout

log = logging.getLogger("aesformer.release")

#: Manifest columns, in order (``docs/release.md`` describes each).
MANIFEST_COLUMNS: tuple[str, ...] = (
    "pair_id",
    "split",
    "video_id",
    "video_sha256",
    "event_index",
    "poor_time_s",
    "good_time_s",
    "poor_image",
    "good_image",
    "poor_sha256",
    "good_sha256",
    "narration",
    "scores",
    "alignment",
    "plan_text",
    *(f"plan_{key}" for key in DIMENSION_KEYS),
    "teacher",
    "teacher_version",
)
MAX_LISTED_PROBLEMS = 10


@dataclass(frozen=True)
class ReleasePair:
    """One pair as released: the record plus its image names in the release and their hashes."""

    record: PairRecord
    poor_name: str
    good_name: str
    poor_source: Path
    good_source: Path
    poor_sha256: str
    good_sha256: str

    @property
    def poor_path(self) -> str:
        return layout.poor_path(self.poor_name)

    @property
    def good_path(self) -> str:
        return layout.good_path(self.good_name)


def planner_prompt(cfg: ReleaseConfig) -> str:
    """The user turn of the Stage1 files: ``<image>`` then the planner prompt of ``cfg.prompt``."""
    return "<image>" + (PLANNER_INSTRUCTION if cfg.prompt == "instruction" else PLANNER_PROMPT)


def build_release(split_dir: Path, out: Path, cfg: ReleaseConfig | None = None) -> dict[str, Any]:
    """Write the release of ``split_dir`` to ``out``; returns the summary: ``pairs``,
    ``pairs_<split>``, ``plans_test``, ``images``, ``bytes``, ``digest`` (see
    :func:`release_digest`), ``files`` (release-relative paths of the JSON files) and
    ``seconds``."""
    start = time.perf_counter()
    cfg = cfg or ReleaseConfig()
    split_dir, out = Path(split_dir), Path(out)
    if out.resolve() == split_dir.resolve() or out.resolve().is_relative_to(split_dir.resolve()):
        raise OutputError(f"{out}: the release folder must lie outside the split folder")
    pairs = load_pairs(split_dir)
    tmp = out.with_name(f".{out.name}.partial")
    _remove(tmp)
    try:
        _place_images(pairs, tmp, cfg.link_images)
        files = write_jsons(pairs, tmp, cfg)
        write_manifest(pairs, tmp / layout.MANIFEST)
        digest = release_digest(tmp)
        _swap_into_place(tmp, out)
    except BaseException:
        _remove(tmp)
        raise
    counts = Counter(p.record.split for p in pairs)
    summary: dict[str, Any] = {
        "pairs": len(pairs),
        **{f"pairs_{name}": counts.get(name, 0) for name in layout.SPLITS},
        "plans_test": sum(1 for p in pairs if p.record.split == "test" and p.record.plan_text),
        "images": 2 * len(pairs),
        "bytes": sum((p.poor_source.stat().st_size + p.good_source.stat().st_size) for p in pairs),
        "digest": digest,
        "files": files,
        "seconds": round(time.perf_counter() - start, 3),
    }
    log.info(
        "release: %d pairs (%s) -> %s, digest %s",
        len(pairs),
        ", ".join(f"{n} {counts.get(n, 0)}" for n in layout.SPLITS),
        out,
        digest,
    )
    return summary


# --------------------------------------------------------------------------- reading
def load_pairs(split_dir: Path) -> list[ReleasePair]:
    """Read and check ``split_dir/pairs.jsonl``; pairs sorted by (split, pair id).

    Raises :class:`InputError` listing every problem found (up to ten)."""
    pairs_file = split_dir / "pairs.jsonl"
    problems: list[str] = []
    pairs: list[ReleasePair] = []
    seen: dict[str, int] = {}
    for number, item in read_jsonl_lenient(pairs_file, PairRecord):
        where = f"{pairs_file}:{number}"
        if isinstance(item, str):
            problems.append(f"{where}: not a PairRecord: {item}")
            continue
        found = _check(item, split_dir, where)
        if isinstance(found, str):
            problems.append(found)
            continue
        if item.pair_id in seen:
            problems.append(
                f"{where}: pair {item.pair_id}: duplicate pair_id (first on line {seen[item.pair_id]})"
            )
            continue
        seen[item.pair_id] = number
        pairs.append(found)
    if problems:
        shown = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise InputError(
            f"{pairs_file}: {len(problems)} problem(s), nothing released:\n  {shown}{tail}"
        )
    if not pairs:
        raise InputError(f"{pairs_file}: no pairs to release")
    order = {name: i for i, name in enumerate(layout.SPLITS)}
    return sorted(pairs, key=lambda p: (order[p.record.split or "test"], p.record.pair_id))


def _check(pair: PairRecord, split_dir: Path, where: str) -> ReleasePair | str:
    """The pair ready to release, or what is wrong with it (one line)."""
    who = f"{where}: pair {pair.pair_id}"
    if not layout.SAFE_NAME.match(pair.pair_id):
        return f"{who}: pair_id is not usable as a file name"
    if pair.split is None:
        return f"{who}: no split (run the split stage first)"
    if pair.split in layout.TRAINING_SPLITS and (pair.plan is None or pair.plan_text is None):
        return f"{who}: {pair.split} pair without plan / plan_text (run annotate first)"
    if pair.plan_text is not None and (problem := plan_problem(pair.plan, pair.plan_text)):
        return f"{who}: {problem}"
    sources: dict[str, Path] = {}
    for role, relative in (("poor", pair.poor_image), ("good", pair.good_image)):
        try:
            path = inside(split_dir, relative)
        except UnreadableImage as exc:
            return f"{who}: {role} image {exc}"
        if not path.is_file():
            return f"{who}: {role} image not found: {split_dir / relative}"
        sources[role] = path
    poor_ext = sources["poor"].suffix.lower() or ".png"
    good_ext = sources["good"].suffix.lower() or ".png"
    return ReleasePair(
        record=pair,
        poor_name=f"{pair.pair_id}{poor_ext}",
        good_name=f"{pair.pair_id}{good_ext}",
        poor_source=sources["poor"],
        good_source=sources["good"],
        poor_sha256=sha256_file(sources["poor"]),
        good_sha256=sha256_file(sources["good"]),
    )


# --------------------------------------------------------------------------- writing
def _place_images(pairs: list[ReleasePair], root: Path, link: bool) -> None:
    for pair in pairs:
        for src, relative in (
            (pair.poor_source, pair.poor_path),
            (pair.good_source, pair.good_path),
        ):
            _link_or_copy(src, root / relative, link)


def _link_or_copy(src: Path, dst: Path, link: bool) -> None:
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if link:
            try:
                os.link(src, dst)
                return
            except OSError:
                pass
        shutil.copy2(src, dst)
    except OSError as exc:
        raise OutputError(f"{dst}: cannot place image ({exc.strerror or exc})") from None


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def sft_row(pair: ReleasePair, prompt: str) -> dict[str, Any]:
    """One LLaMA-Factory ShareGPT multimodal example (Stage1_a)."""
    return {
        "messages": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": pair.record.plan_text},
        ],
        "images": [pair.poor_path],
    }


def grpo_row(pair: ReleasePair, prompt: str, cfg: ReleaseConfig) -> dict[str, Any]:
    """One EasyR1 example (Stage1_b): prompt, reference plan (the answer), image."""
    return {
        cfg.grpo_prompt_key: prompt,
        cfg.grpo_answer_key: pair.record.plan_text,
        cfg.grpo_image_key: [pair.poor_path],
    }


def editor_row(pair: ReleasePair) -> dict[str, Any]:
    """One musubi-tuner metadata line (Stage2): target, control image, caption = the plan."""
    return {
        "image_path": pair.good_path,
        "control_path": pair.poor_path,
        "caption": pair.record.plan_text,
    }


def dataset_info(splits: list[str]) -> dict[str, Any]:
    """LLaMA-Factory ``dataset_info.json`` registering the Stage1_a file of each split."""
    entry = {
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }
    return {
        layout.sft_dataset_name(split): {
            **entry,
            "file_name": layout.sft_file(split).removeprefix(f"{layout.JSONS}/"),
        }
        for split in splits
    }


def write_jsons(pairs: list[ReleasePair], root: Path, cfg: ReleaseConfig) -> list[str]:
    """Write every JSON file of the release under ``root``; return their relative paths."""
    prompt = planner_prompt(cfg)
    texts: dict[str, str] = {}
    for split in layout.TRAINING_SPLITS:
        members = [p for p in pairs if p.record.split == split]
        texts[layout.sft_file(split)] = _dumps([sft_row(p, prompt) for p in members])
        texts[layout.grpo_file(split)] = _jsonl([grpo_row(p, prompt, cfg) for p in members])
        texts[layout.editor_file(split)] = _jsonl([editor_row(p) for p in members])
    texts[layout.DATASET_INFO] = _dumps(dataset_info(list(layout.TRAINING_SPLITS)))
    test = [p for p in pairs if p.record.split == "test"]
    texts[layout.TEST_MAPPING] = _dumps({p.good_name: p.poor_name for p in test})
    texts[layout.PLANNER_INPUT] = _dumps(
        [{"image": p.poor_path, "poor_image_name": p.poor_name, "prompt": prompt} for p in test]
    )
    texts[layout.REFERENCE_PLANS] = _dumps(
        {p.poor_name: p.record.plan_text for p in test if p.record.plan_text}
    )
    for relative, text in sorted(texts.items()):
        atomic_write_text(root / relative, text)
    return sorted(texts)


def manifest_rows(pairs: list[ReleasePair]) -> list[dict[str, Any]]:
    """The manifest as a list of row dicts (the columns of :data:`MANIFEST_COLUMNS`)."""
    rows = []
    for pair in pairs:
        r = pair.record
        plan = dict(r.plan or {})
        rows.append(
            {
                "pair_id": r.pair_id,
                "split": r.split,
                "video_id": r.video_id,
                "video_sha256": r.video_sha256,
                "event_index": r.event_index,
                "poor_time_s": r.poor_time_s,
                "good_time_s": r.good_time_s,
                "poor_image": pair.poor_path,
                "good_image": pair.good_path,
                "poor_sha256": pair.poor_sha256,
                "good_sha256": pair.good_sha256,
                "narration": r.narration,
                "scores": json.dumps(r.scores, sort_keys=True),
                "alignment": (
                    json.dumps(r.alignment.model_dump(mode="json"), sort_keys=True)
                    if r.alignment
                    else None
                ),
                "plan_text": r.plan_text,
                **{f"plan_{key}": plan.get(key) for key in DIMENSION_KEYS},
                "teacher": r.teacher,
                "teacher_version": r.teacher_version,
            }
        )
    return rows


def manifest_schema() -> Any:
    """The pyarrow schema of ``manifest.parquet`` (fixed, so an empty column keeps its type)."""
    import pyarrow as pa

    types = {"event_index": pa.int64(), "poor_time_s": pa.float64(), "good_time_s": pa.float64()}
    return pa.schema([(name, types.get(name, pa.string())) for name in MANIFEST_COLUMNS])


def write_manifest(pairs: list[ReleasePair], path: Path) -> None:
    """Write ``manifest.parquet`` (pyarrow, no pandas index, deterministic bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(manifest_rows(pairs), schema=manifest_schema())
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def read_manifest(release_dir: Path) -> Any:
    """``manifest.parquet`` of a release as a pandas DataFrame (:class:`InputError` if absent)."""
    import pandas as pd

    path = Path(release_dir) / layout.MANIFEST
    if not path.is_file():
        raise InputError(f"{path}: not found (not a release folder?)")
    return pd.read_parquet(path)


# --------------------------------------------------------------------------- identity
def release_files(release_dir: Path) -> list[str]:
    """Every file of the release, relative, sorted (hidden temporary files excluded)."""
    root = Path(release_dir)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def release_digest(release_dir: Path, verify: bool = False) -> str:
    """Content digest of a release: 32 hex digits of SHA-256 over ``<path>\\0<sha256>\\n`` of
    every file, sorted by path (images' SHA-256 taken from the manifest, other files hashed).

    It identifies the data (the MLflow dataset digest, the release tag). ``verify=True`` also
    hashes every image and checks the images folder holds exactly the manifest's images
    (:class:`InputError` on any difference).
    """
    release_dir = Path(release_dir)
    frame = read_manifest(release_dir)
    recorded: dict[str, str] = {}
    for role in ("poor", "good"):
        recorded.update(zip(frame[f"{role}_image"], frame[f"{role}_sha256"], strict=True))
    files = release_files(release_dir)
    if verify:
        images = {f for f in files if f.startswith(f"{layout.IMAGES}/")}
        extra, missing = sorted(images - set(recorded)), sorted(set(recorded) - images)
        if extra or missing:
            raise InputError(
                f"{release_dir}: images differ from the manifest: "
                f"missing {missing[:5]}, not in the manifest {extra[:5]}"
            )
        for relative, expected in recorded.items():
            actual = sha256_file(release_dir / relative)
            if actual != expected:
                raise InputError(
                    f"{release_dir / relative}: sha256 {actual} differs from the manifest's "
                    f"{expected} (the file changed after the release was built)"
                )
    digest = hashlib.sha256()
    for relative in files:
        sha = recorded.get(relative) or sha256_file(release_dir / relative)
        digest.update(f"{relative}\0{sha}\n".encode())
    return digest.hexdigest()[:32]


# --------------------------------------------------------------------------- folders
def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError as exc:
        raise OutputError(f"{path}: cannot remove ({exc.strerror or exc})") from None


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``tmp`` folder (the old one removed after the rename)."""
    old = out.with_name(f".{out.name}.old")
    _remove(old)
    try:
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot move the release into place ({exc.strerror or exc})"
        ) from None
    _remove(old)


__all__ = [
    "MANIFEST_COLUMNS",
    "ReleasePair",
    "build_release",
    "dataset_info",
    "editor_row",
    "grpo_row",
    "load_pairs",
    "manifest_rows",
    "planner_prompt",
    "read_manifest",
    "release_digest",
    "release_files",
    "sft_row",
    "write_jsons",
    "write_manifest",
]
