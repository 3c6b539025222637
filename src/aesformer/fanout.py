"""Fan-out of independent per-item work (one video, one pair): local pool or Prefect tasks.

Stages call :func:`fan_out` with a top-level (picklable) function and its argument tuples and
get the results back in input order. Two runners, chosen by params, one code path:

- ``local``: the stage's own process (one worker) or a :class:`ProcessPoolExecutor`;
- ``prefect``: one Prefect task per item inside a flow ``aesformer-<name>`` whose task runner is
  ``orchestration.task_runner``: ``thread`` / ``process`` (Prefect's local pools), ``dask``
  (``prefect-dask``; a scheduler at ``orchestration.cluster_address`` or a local cluster bound
  to 127.0.0.1) or ``ray`` (``prefect-ray``, installed with the ``ray`` extra).

Item functions must not raise for a bad item (they return a failure record); an exception is a
bug or an infrastructure fault and propagates (Prefect retries it where configured).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal, TypeVar

from aesformer.config import OrchestrationConfig
from aesformer.errors import ConfigError
from aesformer.progress import track

R = TypeVar("R")
Runner = Literal["local", "prefect"]


def fan_out(
    fn: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    *,
    name: str,
    runner: Runner = "local",
    workers: int = 1,
    orchestration: OrchestrationConfig | None = None,
    label: Callable[[tuple[Any, ...]], str] | None = None,
) -> list[R]:
    """``[fn(*job) for job in jobs]``, run by ``runner``; results in the order of ``jobs``."""
    if not jobs:
        return []
    if runner == "local":
        return _local(fn, jobs, name, workers)
    if runner == "prefect":
        return _prefect(fn, jobs, name, workers, orchestration or OrchestrationConfig(), label)
    raise ConfigError(f"unknown runner {runner!r} (use local or prefect)")


def _local(
    fn: Callable[..., R], jobs: Sequence[tuple[Any, ...]], name: str, workers: int
) -> list[R]:
    if workers <= 1 or len(jobs) == 1:
        return [fn(*job) for job in track(jobs, name)]
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        return [f.result() for f in track(futures, name)]


def task_runner(orch: OrchestrationConfig, workers: int) -> Any:
    """The Prefect task runner named by ``orch.task_runner`` (imports its integration lazily)."""
    kind = orch.task_runner
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:  # pragma: no cover - in the lock; guards slim images
            raise ConfigError("orchestration.task_runner=dask needs prefect-dask") from exc
        if orch.cluster_address:
            return DaskTaskRunner(address=orch.cluster_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "host": "127.0.0.1",
                "dashboard_address": None,
            }
        )
    if kind == "ray":
        try:
            from prefect_ray import RayTaskRunner
        except ImportError as exc:
            raise ConfigError(
                "orchestration.task_runner=ray needs prefect-ray: pip install -e '.[ray]'"
            ) from exc
        return RayTaskRunner(address=orch.cluster_address)
    raise ConfigError(f"orchestration.task_runner: unknown runner {kind!r}")


def _prefect(
    fn: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    name: str,
    workers: int,
    orch: OrchestrationConfig,
    label: Callable[[tuple[Any, ...]], str] | None,
) -> list[R]:
    from aesformer.runtime import apply_embedded_env

    apply_embedded_env()  # PREFECT_HOME etc. before Prefect reads its settings
    from prefect import flow, task
    from prefect.cache_policies import NONE

    runner = task_runner(orch, workers)
    item_task = task(
        fn,
        name=f"{name}-item",
        cache_policy=NONE,  # items cache their own results (e.g. mine: by video sha256)
        retries=orch.retries,
        retry_delay_seconds=orch.retry_delay_seconds,
    )

    @flow(name=f"aesformer-{name}", task_runner=runner, log_prints=True)
    def fan_out_flow() -> list[R]:
        futures = []
        for job in jobs:
            opts = item_task.with_options(task_run_name=label(job)) if label else item_task
            futures.append(opts.submit(*job))
        return [f.result() for f in track(futures, name)]

    return fan_out_flow()
