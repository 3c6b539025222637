"""The bad-input corpus (``tests/badinputs.py``) through the real stages: every case has its
recorded, readable outcome, no stage crashes, and the valid items beside them are processed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aesformer.align import run as run_align
from aesformer.config import AlignConfig, SplitConfig, load_params
from aesformer.corpus import make_event
from aesformer.corpus.stage import run as run_corpus
from aesformer.errors import ConfigError
from aesformer.mining.stage import run as run_mine
from aesformer.records import PairRecord, RejectRecord, read_jsonl, write_jsonl
from aesformer.split.stage import run as run_split
from tests import badinputs
from tests.factories import MINING_CORPUS
from tests.servers import free_port
from tests.split_pairs import make_annotated

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


def _outcomes(out: Path, key: str) -> dict[str, RejectRecord]:
    """This stage's rejects by ``key`` (a record field)."""
    return {getattr(r, key): r for r in read_jsonl(out / "rejects.jsonl", RejectRecord)}


def _by_source(out: Path, pairs_file: Path, lines: dict[str, int]) -> dict[str, RejectRecord]:
    """Rejects of bad lines, by the case whose line they name (``source`` = ``file:line``)."""
    names = {f"{pairs_file}:{number}": name for name, number in lines.items()}
    return {
        names[r.source]: r
        for r in read_jsonl(out / "rejects.jsonl", RejectRecord)
        if r.source in names
    }


# ------------------------------------------------------------------------------ mine
@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """The video and manifest cases mined in one real ``mine`` run (a local S3 endpoint where
    nothing listens for the unreachable URL)."""
    root = tmp_path_factory.mktemp("bad-videos")
    run_corpus(MINING_CORPUS.model_copy(update={"videos": 1, "seed": 0}), root / "raw")
    (valid,) = sorted((root / "raw" / "videos").glob("*.mp4"))
    manifest = badinputs.build_videos(root / "videos", valid, root / "elsewhere")
    env = {
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.chdir(root / "videos")  # where a shell would have created PWNED files
        cfg = load_params(ROOT / "params.yaml").mine
        summary = run_mine(cfg, manifest, root / "mined", workers=1)
    lines = manifest.read_text().splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "manifest_bad_json" in line)
    return root, summary, bad_line


def test_valid_video_is_mined_beside_the_bad_ones(mined):
    root, summary, _ = mined
    pairs = list(read_jsonl(root / "mined" / "pairs.jsonl", PairRecord))
    assert any(p.video_id == "valid" for p in pairs)
    assert summary["videos"] == len(badinputs.cases("mine")) + 1
    assert not list((root / "videos").glob("PWNED*")), "a manifest string reached a shell"
    assert not list(Path.cwd().glob("PWNED*"))


@pytest.mark.parametrize("case", badinputs.cases("mine"), ids=lambda c: c.name)
def test_video_and_manifest_cases(mined, case):
    root, _, bad_line = mined
    out = root / "mined"
    report = json.loads((out / "report.json").read_text())
    rejects = _outcomes(out, "video_id")
    video_id = f"line_{bad_line}" if case.name == "manifest_bad_json" else case.name
    if case.outcome == "mined":
        assert video_id not in rejects or rejects[video_id].reason not in {
            "unreadable",
            "empty_file",
            "no_frames",
        }, rejects.get(video_id)
        assert video_id in report["videos"] and "failed" not in report["videos"][video_id]
        pairs = [p for p in read_jsonl(out / "pairs.jsonl", PairRecord) if p.video_id == video_id]
        assert len(pairs) == case.pairs, (case.name, report["videos"][video_id])
        return
    assert video_id in rejects, f"{case.name}: no reject recorded"
    reject = rejects[video_id]
    assert reject.reason == case.outcome, (case.name, reject)
    assert case.detail in reject.detail
    assert reject.stage == "mine"


# ----------------------------------------------------------------------------- align
@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    """The image and pair-record cases in one real ``align`` run."""
    root = tmp_path_factory.mktemp("bad-pairs")
    pairs_dir = root / "mined"
    event = make_event(seed=0, size=(640, 360))
    images = badinputs.build_images(pairs_dir, event.photos.poor, event.photos.good)
    records = [
        PairRecord(
            pair_id=name,
            video_id="tut_0000",
            video_sha256="0" * 64,
            event_index=i,
            poor_time_s=1.0,
            good_time_s=10.0 + i,
            poor_image=poor,
            good_image=good,
        )
        for i, (name, (poor, good)) in enumerate(images.items())
    ]
    write_jsonl(pairs_dir / "pairs.jsonl", records)
    template = records[0].model_dump(mode="json")
    bad = badinputs.bad_pair_lines(template | {"pair_id": "bad"})
    pairs_file = pairs_dir / "pairs.jsonl"
    lines: dict[str, int] = {}
    with pairs_file.open("ab") as fh:
        for number, (name, line) in enumerate(bad.items(), start=len(records) + 1):
            fh.write(line + b"\n")
            lines[name] = number
    summary = run_align(AlignConfig(), pairs_dir, root / "aligned")
    return root, summary, pairs_file, lines


def test_valid_pair_is_aligned_beside_the_bad_ones(aligned):
    root, summary, _, lines = aligned
    kept = {p.pair_id for p in read_jsonl(root / "aligned" / "pairs.jsonl", PairRecord)}
    assert "valid" in kept
    assert summary["pairs_in"] == len(badinputs.cases("align")) + 1


@pytest.mark.parametrize("case", badinputs.cases("align"), ids=lambda c: c.name)
def test_image_and_pair_record_cases(aligned, case):
    root, _, pairs_file, lines = aligned
    out = root / "aligned"
    kept = {p.pair_id for p in read_jsonl(out / "pairs.jsonl", PairRecord)}
    if case.outcome == "kept":
        assert case.name in kept, _outcomes(out, "pair_id").get(case.name)
        return
    rejects = (
        _by_source(out, pairs_file, lines) if case.name in lines else _outcomes(out, "pair_id")
    )
    assert case.name in rejects, f"{case.name}: no reject recorded"
    assert rejects[case.name].reason == case.outcome, rejects[case.name]
    assert case.detail in rejects[case.name].detail, rejects[case.name]


# ----------------------------------------------------------------------------- split
@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """The plan cases beside valid annotated pairs, in one real ``split`` run."""
    root = tmp_path_factory.mktemp("bad-plans")
    pairs = make_annotated(root / "annotated")
    template = pairs[0]
    extra = [
        template.model_copy(
            update={"pair_id": name, "plan": plan, "plan_text": text, "event_index": 10 + i}
        )
        for i, (name, (plan, text)) in enumerate(
            badinputs.bad_plans(dict(template.plan), template.plan_text).items()
        )
    ]
    write_jsonl(root / "annotated" / "pairs.jsonl", [*pairs, *extra])
    summary = run_split(SplitConfig(), root / "annotated", root / "split")
    return root, summary, [p.pair_id for p in pairs]


def test_valid_pairs_are_split_beside_the_bad_plans(split):
    root, summary, valid = split
    kept = [p.pair_id for p in read_jsonl(root / "split" / "pairs.jsonl", PairRecord)]
    assert kept == valid
    assert summary["rejected"] == len(badinputs.cases("split"))


@pytest.mark.parametrize("case", badinputs.cases("split"), ids=lambda c: c.name)
def test_plan_cases(split, case):
    root = split[0]
    rejects = _outcomes(root / "split", "pair_id")
    assert case.name in rejects, f"{case.name}: no reject recorded"
    assert rejects[case.name].reason == case.outcome, rejects[case.name]
    assert case.detail in rejects[case.name].detail, rejects[case.name]


# ---------------------------------------------------------------------------- params
@pytest.mark.parametrize("case", badinputs.cases("params"), ids=lambda c: c.name)
def test_params_cases(tmp_path, case):
    files = badinputs.bad_params(tmp_path, ROOT / "params.yaml")
    with pytest.raises(ConfigError) as err:
        load_params(files[case.name])
    message = str(err.value)
    assert str(files[case.name]) in message and case.detail in message, message


# ----------------------------------------------------------------------------- docs
def test_the_reliability_doc_lists_every_case_with_its_outcome():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    assert badinputs.table() in doc, "regenerate with: python -m tests.badinputs"
    assert len(badinputs.CASES) >= 25
