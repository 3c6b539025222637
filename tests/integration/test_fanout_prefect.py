"""Per-item fan-out as Prefect tasks on a real (temporary) Prefect server: thread, process and
a local Dask cluster; then the mine stage through it gives the same pairs as the local runner."""

from __future__ import annotations

import os

import pytest

from aesformer.config import MineConfig, OrchestrationConfig
from aesformer.fanout import fan_out
from tests.factories import MINING_CORPUS

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _task_runs(flow_name: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
        )


@pytest.mark.parametrize("kind", ["thread", "process", "dask"])
def test_prefect_runners_run_one_task_per_item(kind):
    orch = OrchestrationConfig(task_runner=kind, retries=0)
    name = f"square-{kind}"
    got = fan_out(
        square_with_pid,
        [(i,) for i in range(4)],
        name=name,
        runner="prefect",
        workers=2,
        orchestration=orch,
        label=lambda job: f"square {job[0]}",
    )
    assert [v for v, _ in got] == [0, 1, 4, 9]
    if kind != "thread":
        assert os.getpid() not in {pid for _, pid in got}
    runs = _task_runs(f"aesformer-{name}")
    assert sorted(r.name for r in runs) == [f"square {i}" for i in range(4)]
    assert {r.state_type.value for r in runs} == {"COMPLETED"}


def test_mine_stage_through_prefect_matches_local(tmp_path):
    from aesformer.corpus import generate_video
    from aesformer.mining.stage import run

    for i in range(2):
        generate_video(tmp_path / "corpus", f"tut_{i:04d}", seed=i, cfg=MINING_CORPUS)
    videos = tmp_path / "corpus" / "videos"
    local = run(MineConfig(), videos, tmp_path / "local")
    orch = OrchestrationConfig(task_runner="thread", retries=0)
    remote = run(
        MineConfig(runner="prefect", workers=2), videos, tmp_path / "pf", orchestration=orch
    )
    assert remote["cache_key"] == local["cache_key"]
    assert remote["pairs"] == local["pairs"] >= 3
    assert (tmp_path / "pf" / "pairs.jsonl").read_text() == (
        tmp_path / "local" / "pairs.jsonl"
    ).read_text()
    names = sorted(r.name for r in _task_runs("aesformer-mine"))
    assert names == ["mine tut_0000", "mine tut_0001"]
