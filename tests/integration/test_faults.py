"""Fault injection against the real components: killed stages, stopped servers, a full disk.

The faults are real: a stage is killed with SIGKILL (its process group, or the training process
killing itself right after a checkpoint, so that the moment is deterministic); the SeaweedFS S3
and MLflow servers are real processes, killed or stopped and restarted on the same data; the full
disk is ``RLIMIT_FSIZE`` in the writer's process, whose writes then fail with ``EFBIG``. Only the
on-disk state of a kill *inside* a checkpoint write is laid out by hand (a real checkpoint whose
last file is cut short): no kill can be timed to land there.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from aesformer.config import (
    EditorConfig,
    JudgeEndpointConfig,
    LogitJudgeConfig,
    PromoteConfig,
    RewardsConfig,
    TrackingConfig,
)
from aesformer.corpus.stage import run as run_corpus
from aesformer.errors import AesformerError
from aesformer.evaluation.promotion import PromotionError, alias_version, promote
from aesformer.fileio import partial_path
from aesformer.records import PairRecord, read_jsonl, write_jsonl
from aesformer.release import PushFailed, build_release, publish, release_digest
from aesformer.release.export import release_files
from aesformer.release.version import read_tag
from tests.editor_factory import make_release, tiny_editor_base
from tests.factories import MINING_CORPUS, s3_client_with_bucket
from tests.integration import test_release_publish, test_thinker_grpo
from tests.integration.test_release_publish import BUCKET, RELEASE, release_runs, s3_remote
from tests.integration.test_thinker_grpo import tiny_grpo
from tests.servers import free_port, mlflow_server, process, seaweedfs_s3, wait_until
from tests.unit.test_cli import assert_one_line_error
from tests.unit.test_evaluation_promotion import GOOD, pair
from tests.unit.test_release_export import make_split

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RESULT = "RESULT "
KILLED = -signal.SIGKILL
#: The editor run of the resume test: 4 steps, a checkpoint every 2, validation at the end only.
EDITOR = EditorConfig(
    max_steps=4, save_steps=2, val_every=4, val_pairs=1, val_inference_steps=1, evidence_steps=1
)

# shared fixtures (module scope here): the tiny thinker base, release and 2-step SFT adapter of
# the GRPO tests; the git+DVC repo with a committed release and the SQLite tracking config of
# the publish tests
thinker = test_thinker_grpo.setup
release_repo = test_release_publish.repo
release_tracking = test_release_publish.tracking


# --------------------------------------------------------------------------- child processes
#: What the training children need: imported once by the forkserver they are forked from.
PRELOAD = ["tests.integration.test_faults", "aesformer.thinker.sft", "aesformer.editor.stage"]


@pytest.fixture(scope="module")
def fresh() -> Iterator[Any]:
    """Processes for the training faults: each a fork of a forkserver that has only imported the
    training stack (it shares nothing with this process or with another child, and does not
    pay the imports again: they are most of a tiny run's time)."""
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    yield context
    forkserver._forkserver._stop()  # private, but the only way to free its memory before exit


def start_child(fresh: Any, function: str, *args: object, log: Path) -> Any:
    """``function(*args)`` of this module in a process of ``fresh``, its output to ``log``. The
    function reports its result on a last ``RESULT <json>`` line."""
    proc = fresh.Process(target=child_main, args=(function, [str(a) for a in args], str(log)))
    proc.start()
    return proc


def child_main(function: str, args: list[str], log: str) -> None:
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    globals()[function](*args)


def finish(proc: Any, log: Path) -> tuple[int, dict[str, Any] | None, str]:
    """``(exit status, reported result or None, output)`` of a child started by start_child."""
    proc.join(timeout=600)
    if proc.exitcode is None:
        proc.kill()
        proc.join()
    text = log.read_text(errors="replace")
    reports = [json.loads(ln[len(RESULT) :]) for ln in text.splitlines() if ln.startswith(RESULT)]
    return proc.exitcode, (reports[-1] if reports else None), text


def run_child(fresh: Any, function: str, *args: object, log: Path) -> tuple[int, Any, str]:
    return finish(start_child(fresh, function, *args, log=log), log)


def report(result: dict[str, Any]) -> None:
    print(RESULT + json.dumps(result, default=str), flush=True)


def sft_child(release: str, base: str, out: str, kill_after: str) -> None:
    """train_sft (4 steps, checkpoints every 2); SIGKILL right after checkpoint ``kill_after``."""
    from aesformer.thinker.sft import train_sft
    from tests.unit.test_thinker_sft import Kill, tiny_cfg

    class SigKill(Kill):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == self.step:
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = [SigKill(int(kill_after))] if int(kill_after) else []
    cfg = tiny_cfg(max_steps=4, save_steps=2)
    report(train_sft(cfg, Path(release), base, Path(out), callbacks=callbacks))


def editor_child(release: str, base: str, out: str, cache: str, kill_after: str) -> None:
    """train_editor (:data:`EDITOR`); SIGKILL right after step ``kill_after`` and its checkpoint."""
    from aesformer.editor.stage import train_editor

    def on_step(step: int, loss: float) -> None:
        if step == int(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)

    report(train_editor(EDITOR, Path(release), base, Path(out), Path(cache), on_step=on_step))


def cut_short(complete: Path, partial: Path, last: str, atomic: bool) -> None:
    """Lay out in ``partial`` what a kill while it was written leaves: the files of the real
    checkpoint ``complete``, the one written last (``last``) cut to half its bytes — in place,
    or, for an ``atomic`` write, under its hidden temporary name with the final name absent."""
    shutil.copytree(complete, partial)
    target = partial / last
    data = target.read_bytes()
    target.unlink()
    (partial_path(target) if atomic else target).write_bytes(data[: len(data) // 2])


def checkpoint_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("checkpoint-*"))


# --------------------------------------------------------------------------- 1. mine
def test_mine_killed_halfway_mines_only_the_rest_into_the_same_output(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tracking"]["enabled"] = False  # the fault is the mining cache's, not MLflow's
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_corpus(MINING_CORPUS.model_copy(update={"videos": 2, "seed": 0}), tmp_path / "raw")
    videos = tmp_path / "raw" / "manifest.jsonl"

    def mine(out: str) -> list[str]:
        cli = [sys.executable, "-m", "aesformer.cli", "mine", "--videos", str(videos)]
        return [*cli, "--out", out, "--workers", "1"]

    def finished(out: Path) -> dict[str, bytes]:
        """Cache entries of mined videos (hidden ``.partial`` files are writes in progress)."""
        entries = (out / "cache").glob("*/*.json")
        return {p.name: p.read_bytes() for p in entries if not p.name.startswith(".")}

    killed = tmp_path / "killed"
    with (
        process(mine("whole"), tmp_path / "whole.log", cwd=tmp_path) as whole,
        process(mine("killed"), tmp_path / "killed.log", cwd=tmp_path) as victim,
    ):
        # kill -9 the whole stage (its process group) once one video is cached, one pending
        log = tmp_path / "killed.log"
        wait_until(lambda: finished(killed), 300, "first mined video", victim, log)
        os.killpg(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == KILLED
        assert whole.wait(timeout=300) == 0, (tmp_path / "whole.log").read_text()[-2000:]
    at_kill = finished(killed)
    assert len(at_kill) == 1
    assert not (killed / "report.json").exists()

    again = subprocess.run(mine("killed"), cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads((killed / "report.json").read_text())["summary"]
    assert (summary["videos_cached"], summary["videos_mined"]) == (len(at_kill), 1)
    assert summary["videos_failed"] == 0
    after = finished(killed)
    assert {k: after[k] for k in at_kill} == at_kill  # the cached video was not mined again
    assert after.keys() == finished(tmp_path / "whole").keys()
    resumed = list(read_jsonl(killed / "pairs.jsonl", PairRecord))
    uninterrupted = list(read_jsonl(tmp_path / "whole" / "pairs.jsonl", PairRecord))
    assert resumed and [p.pair_id for p in resumed] == [p.pair_id for p in uninterrupted]
    assert resumed == uninterrupted
    for p in resumed:
        for image in (p.poor_image, p.good_image):
            assert (killed / image).read_bytes() == (tmp_path / "whole" / image).read_bytes()


# --------------------------------------------------------------------------- 2. sft, editor
def test_sft_killed_after_a_checkpoint_resumes_from_the_last_complete_one(thinker, fresh, tmp_path):
    from aesformer.thinker.sft import CHECKPOINTS, TRAINER_STATE, last_checkpoint

    _, base, release, _ = thinker
    out = tmp_path / "sft"
    status, _, text = run_child(
        fresh, "sft_child", release, base, out, 2, log=tmp_path / "killed.log"
    )
    assert status == KILLED, text[-3000:]
    checkpoints = out / CHECKPOINTS
    assert checkpoint_names(checkpoints) == ["checkpoint-2"]
    assert not (out / "adapter_model.safetensors").exists()

    # killed while checkpoint-4 was written: its trainer_state.json (written last, in place)
    # half written, or not yet there; neither is resumed
    partial = checkpoints / "checkpoint-4"
    cut_short(checkpoints / "checkpoint-2", partial, TRAINER_STATE, atomic=False)
    assert last_checkpoint(checkpoints) == checkpoints / "checkpoint-2"
    (partial / TRAINER_STATE).unlink()
    assert last_checkpoint(checkpoints) == checkpoints / "checkpoint-2"

    status, resumed, text = run_child(
        fresh, "sft_child", release, base, out, 0, log=tmp_path / "r.log"
    )
    assert status == 0, text[-3000:]
    assert resumed["resumed_from_step"] == 2 and resumed["global_step"] == 4
    assert last_checkpoint(checkpoints) == partial  # rewritten whole by the resumed run
    assert json.loads((partial / TRAINER_STATE).read_text())["global_step"] == 4
    assert (out / "adapter_model.safetensors").is_file()


def test_editor_killed_after_a_checkpoint_resumes_to_the_same_losses(fresh, tmp_path):
    from aesformer.editor.stage import INFO_FILE
    from aesformer.editor.train import CHECKPOINTS, OPTIMIZER_FILE, STATE_FILE, last_checkpoint

    base = tiny_editor_base()  # built here once: the children share it (it is in the run key)
    release = make_release(tmp_path / "release", train=4, val=1)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # the uninterrupted run and the killed one side by side (one CPU thread each)
    reference = start_child(
        fresh, "editor_child", release, base, whole, tmp_path / "cache-w", 0, log=tmp_path / "w.log"
    )
    cache = tmp_path / "cache"
    status, _, text = run_child(
        fresh, "editor_child", release, base, killed, cache, 2, log=tmp_path / "k.log"
    )
    assert status == KILLED, text[-3000:]
    checkpoints = killed / CHECKPOINTS
    assert checkpoint_names(checkpoints) == ["checkpoint-2"]

    # killed while checkpoint-4 was written: the adapter in place, the optimizer state half
    # written under its temporary name, state.json (written last) absent
    partial = checkpoints / "checkpoint-4"
    cut_short(checkpoints / "checkpoint-2", partial, OPTIMIZER_FILE, atomic=True)
    (partial / STATE_FILE).unlink()
    assert last_checkpoint(checkpoints) == checkpoints / "checkpoint-2"

    status, resumed, text = run_child(
        fresh, "editor_child", release, base, killed, cache, 0, log=tmp_path / "r.log"
    )
    assert status == 0, text[-3000:]
    status, uninterrupted, text = finish(reference, tmp_path / "w.log")
    assert status == 0, text[-3000:]
    assert resumed["resumed_from_step"] == 2 and resumed["global_step"] == 4
    assert uninterrupted["resumed_from_step"] == 0 and uninterrupted["global_step"] == 4
    losses = json.loads((killed / INFO_FILE).read_text())["losses"]
    assert len(losses) == 4
    assert losses == json.loads((whole / INFO_FILE).read_text())["losses"]
    assert json.loads((partial / STATE_FILE).read_text())["step"] == 4


# --------------------------------------------------------------------------- 3. S3 push
def test_s3_server_killed_before_the_push_then_restarted_on_its_data(
    release_repo, release_tracking, tmp_path, monkeypatch
):
    repo, tracking = release_repo, release_tracking
    digest = release_digest(repo / RELEASE)
    workdir = tmp_path / "s3"
    with ExitStack() as first:
        s3 = first.enter_context(seaweedfs_s3(workdir))
        s3_client_with_bucket(s3, BUCKET)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["aws_secret_access_key"])
        remote = s3_remote(s3["endpoint_url"])
        os.killpg(int(s3["pid"]), signal.SIGKILL)  # the server dies with the remote configured
        with pytest.raises(PushFailed) as failed:
            publish(repo, RELEASE, "1.0.0", remote, tracking)
    message = str(failed.value)
    assert f"DVC remote 's3' (s3://{BUCKET}/dvc at {s3['endpoint_url']}) is unreachable" in message
    assert "git tag data-v1.0.0 are kept" in message
    assert read_tag(repo, "data-v1.0.0")["digest"] == digest
    assert release_digest(repo / RELEASE, verify=True) == digest
    assert release_runs(tracking) == []

    with seaweedfs_s3(workdir) as s3:  # back, on the same data folder (new ports)
        client = s3_client_with_bucket(s3, "probe")
        assert BUCKET in {b["Name"] for b in client.list_buckets()["Buckets"]}
        result = publish(repo, RELEASE, "1.0.0", s3_remote(s3["endpoint_url"]), tracking)
        assert (result.status, result.pushed, result.digest) == ("resumed", True, digest)
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        md5 = result.dvc_md5
        assert f"dvc/files/md5/{md5[:2]}/{md5[2:]}" in keys and len(keys) == 1 + 16 + 11
        os.killpg(int(s3["pid"]), signal.SIGKILL)  # done: weed takes 15 s to stop on SIGTERM
    (run,) = release_runs(tracking)
    assert run.info.status == "FINISHED" and run.info.run_id == result.mlflow_run_id


# --------------------------------------------------------------------------- 4. + 7. MLflow
def create_pair(client: Any, version: str) -> None:
    """Version ``version`` of both models, as a finished registration leaves it: a run, the
    source in the server's artifact store, the registration tags."""
    run = client.create_run(client.create_experiment(f"train-{version}"))
    client.set_terminated(run.info.run_id)
    for name in ("aesthinker", "aeseditor"):
        if version == "1":
            client.create_registered_model(name)
        tags = {"stage": name, "release_version": "1.0.0", "git.commit": "abc"}
        created = client.create_model_version(
            name, f"{run.info.artifact_uri}/{name}", run.info.run_id, tags=tags
        )
        assert str(created.version) == version and created.status == "READY"


def test_tracking_server_stopped_mid_stage_leaves_the_registry_consistent(
    thinker, tmp_path, monkeypatch
):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from aesformer.thinker.registry import register_thinker
    from aesformer.tracking import stage_run

    _, base, _, sft_adapter = thinker
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail now, not after minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    backend = f"sqlite:///{tmp_path / 'registry.db'}"
    cfg, better = PromoteConfig(), {**GOOD, "aesthetic": 0.7}
    try:
        with ExitStack() as server:
            url = server.enter_context(mlflow_server(tmp_path, backend))
            monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
            client = MlflowClient(url)
            create_pair(client, "1")
            promote(client, pair("1", "1"), GOOD, None, cfg, release_version="1", git_commit="a")
            create_pair(client, "2")
            with (
                pytest.raises(MlflowException, match=re.escape(url)),
                stage_run("sft", TrackingConfig(experiment="faults"), root=tmp_path) as run,
            ):
                mlflow.log_metric("sft/loss", 1.0)
                server.close()  # the tracking server goes away in the middle of the stage
                register_thinker(sft_adapter, base, "sft", "1.0.0", git_commit="abc")
            # a promotion while it is down: a clear error, not "not in the registry"
            with pytest.raises(PromotionError, match="failed or is unreachable") as down:
                promote(
                    client, pair("2", "2"), better, GOOD, cfg, release_version="1", git_commit="b"
                )
            assert isinstance(down.value, AesformerError) and url in str(down.value)

        with mlflow_server(tmp_path, backend) as url:  # back, on the same backend store
            monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
            client = MlflowClient(url)
            assert client.get_run(run.info.run_id).info.status == "RUNNING"  # never finished
            assert len(client.search_model_versions("name='aesthinker'")) == 2  # nothing half-made
            assert [alias_version(client, n, "staging") for n in cfg_models(cfg)] == ["1", "1"]
            assert not any(k.startswith("promotion.") for k in version_tags(client, "2"))

            # a version whose registration did not complete is never promoted
            create_pair(client, "3")
            with sqlite3.connect(tmp_path / "registry.db") as db:
                db.execute(
                    "UPDATE model_versions SET status = 'PENDING_REGISTRATION' "
                    "WHERE name = 'aesthinker' AND version = 3"
                )
            with pytest.raises(PromotionError, match="version 3: registration not complete"):
                promote(
                    client, pair("3", "3"), better, GOOD, cfg, release_version="1", git_commit="c"
                )
            assert [alias_version(client, n, "staging") for n in cfg_models(cfg)] == ["1", "1"]

            # 7. registering again makes a new version; the older ones are left as they were
            before = [frozen(client, v) for v in ("1", "2", "3")]
            with stage_run("sft", TrackingConfig(experiment="faults"), root=tmp_path):
                again = register_thinker(
                    sft_adapter, base, "sft", "1.1.0", git_commit="def", max_new_tokens=4
                )
            assert str(again.version) == "4"
            assert [frozen(client, v) for v in ("1", "2", "3")] == before
            assert version_tags(client, "4")["release_version"] == "1.1.0"
    finally:
        mlflow.set_tracking_uri(None)


def cfg_models(cfg: PromoteConfig) -> list[str]:
    return [cfg.thinker_model, cfg.editor_model]


def version_tags(client: Any, version: str) -> dict[str, str]:
    return client.get_model_version("aesthinker", version).tags


def frozen(client: Any, version: str) -> tuple[Any, ...]:
    """What registration fixed of an aesthinker version: source, run, status, tags."""
    found = client.get_model_version("aesthinker", version)
    return found.source, found.run_id, found.status, found.tags


# --------------------------------------------------------------------------- 5. judge
def test_judge_server_down_scores_zero_counts_and_grpo_goes_on(thinker, tmp_path):
    from aesformer.thinker.grpo import train_grpo

    _, base, release, sft_adapter = thinker
    nothing_there = JudgeEndpointConfig(
        base_url=f"http://127.0.0.1:{free_port()}/v1", http_retries=0, timeout_s=5
    )
    rewards = RewardsConfig(
        creativity_judge="logit",
        logit=LogitJudgeConfig(transport="openai", openai=nothing_there),
    )
    out = tmp_path / "grpo"
    summary = train_grpo(tiny_grpo(max_steps=1), rewards, release, base, sft_adapter, out)
    assert summary["global_step"] == 1 and (out / "adapter_model.safetensors").is_file()
    assert summary["judge_failures"] >= 4  # every completion of the step (batch 4)
    assert summary["grpo"]["creativity"] == 0.0 and summary["sft"]["creativity"] == 0.0
    assert summary["train_loss"] == summary["train_loss"]  # a number (not NaN): it trained


# --------------------------------------------------------------------------- 6. disk full
def small_disk() -> None:
    """In the child before exec: files may not grow past 2 KiB, and the write that would fails
    with EFBIG instead of the process dying of SIGXFSZ (an ignored signal stays ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))


def test_disk_full_while_rebuilding_a_release_leaves_the_previous_one(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tracking"]["enabled"] = False  # the MLflow store would be the first file to fail
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    split, release = tmp_path / "split", tmp_path / "data" / "release"
    pairs = make_split(split)
    digest = build_release(split, release)["digest"]
    files = release_files(release)
    write_jsonl(split / "pairs.jsonl", pairs[1:])  # new data: a finished build changes the digest
    export = [sys.executable, "-m", "aesformer.cli", "export", "--split", str(split)]
    export += ["--out", str(release)]

    full = subprocess.run(
        export, cwd=tmp_path, capture_output=True, text=True, preexec_fn=small_disk
    )
    assert_one_line_error(full, "cannot write", "File too large")
    assert release_digest(release, verify=True) == digest
    assert release_files(release) == files
    assert sorted(p.name for p in release.parent.iterdir()) == ["release"]  # no .partial left

    room = subprocess.run(export, cwd=tmp_path, capture_output=True, text=True)
    assert room.returncode == 0, room.stderr
    assert release_digest(release, verify=True) == json.loads(room.stdout)["digest"] != digest
