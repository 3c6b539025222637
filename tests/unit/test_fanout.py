"""fan_out's local runner and the task-runner factory (Prefect runners: tests/integration)."""

from __future__ import annotations

import os

import pytest

from aesformer.config import OrchestrationConfig
from aesformer.errors import ConfigError
from aesformer.fanout import fan_out, task_runner

pytestmark = pytest.mark.unit


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_local_serial_keeps_order_in_this_process():
    got = fan_out(square_with_pid, [(3,), (1,), (2,)], name="t")
    assert [v for v, _ in got] == [9, 1, 4]
    assert {pid for _, pid in got} == {os.getpid()}


def test_local_pool_uses_other_processes_and_keeps_order():
    got = fan_out(square_with_pid, [(i,) for i in range(6)], name="t", workers=2)
    assert [v for v, _ in got] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for _, pid in got}


def test_empty_and_unknown_runner():
    assert fan_out(square_with_pid, [], name="t", runner="prefect") == []
    with pytest.raises(ConfigError, match="unknown runner"):
        fan_out(square_with_pid, [(1,)], name="t", runner="spark")  # type: ignore[arg-type]


def test_task_runner_factory():
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(
        task_runner(OrchestrationConfig(task_runner="thread"), 3), ThreadPoolTaskRunner
    )
    assert isinstance(task_runner(OrchestrationConfig(), 2), ProcessPoolTaskRunner)
    remote = task_runner(OrchestrationConfig(task_runner="dask", cluster_address="tcp://h:8786"), 2)
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://h:8786"
    local = task_runner(OrchestrationConfig(task_runner="dask"), 2)
    assert local.address is None and local.cluster_kwargs["host"] == "127.0.0.1"


def test_ray_without_its_extra_names_the_fix():
    pytest.importorskip("prefect")
    try:
        import prefect_ray  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
            task_runner(OrchestrationConfig(task_runner="ray"), 2)
    else:
        pytest.skip("prefect-ray is installed here")
