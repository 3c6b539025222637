"""``aesformer``: one command per pipeline stage, plus config and remote helpers.

Config is parsed once here and passed down as typed models. Heavy libraries (torch, mlflow,
transformers, diffusers) are imported inside the commands so ``aesformer --help`` stays fast.
Errors the user can fix (bad params, missing input, unwritable output) print one line
``error: ...`` and exit with status 2; no traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from aesformer.config import DEFAULT_PARAMS, Params, dump_params, load_params
from aesformer.errors import AesformerError, InputError
from aesformer.fileio import ensure_dir
from aesformer.runtime import apply_embedded_env, project_root, setup_logging

log = logging.getLogger("aesformer")

app = typer.Typer(
    name="aesformer",
    help="AesFormer pipeline: aesthetic photo reconstruction data, training and promotion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Inspect and validate params.yaml (+ profiles).", no_args_is_help=True
)
models_app = typer.Typer(
    help="Base models: build the tiny embedded-default models.", no_args_is_help=True
)
remote_app = typer.Typer(help="DVC remote from params (local folder or S3).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.add_typer(remote_app, name="remote")

ParamsOpt = Annotated[
    Path, typer.Option("--params", help="params file (one section per stage)", show_default=True)
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help="overlay params/<PROFILE>.yaml, e.g. full-scale"),
]


def _load(params: Path, profile: str | None) -> Params:
    return load_params(params, profile)


def _run_stage(
    stage: str,
    cfg: Params,
    section: Any,
    work: Callable[[], dict[str, Any]],
    after: Callable[[], None] | None = None,
) -> None:
    """The shape of every stage command: one MLflow run (params = ``section``), the work, its
    numeric summary as metrics, an optional follow-up inside the run, the summary on stdout."""
    from aesformer import tracking

    with tracking.stage_run(stage, cfg.tracking, section, root=project_root()):
        summary = work()
        tracking.log_metrics(summary)
        if after is not None:
            after()
    typer.echo(json.dumps(summary, indent=2))


def _require_pairs(folder: Path, producer: str) -> None:
    if not (folder / "pairs.jsonl").is_file():
        raise InputError(f"{folder / 'pairs.jsonl'}: not found (run `{producer}` first)")


# --------------------------------------------------------------------------- config
@config_app.command("show")
def config_show(
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
) -> None:
    """Print the merged, validated configuration (fails on an invalid file)."""
    cfg = _load(params, profile)
    if fmt == "json":
        typer.echo(json.dumps(cfg.model_dump(mode="json"), indent=2))
    elif fmt == "yaml":
        typer.echo(dump_params(cfg), nl=False)
    else:
        raise typer.BadParameter("use yaml or json", param_hint="--format")


# --------------------------------------------------------------------------- corpus
@app.command("corpus")
def corpus(
    out: Annotated[
        Path, typer.Option("--out", help="output folder (videos/, truth/, manifest.jsonl)")
    ] = Path("data/raw"),
    videos: Annotated[
        int | None,
        typer.Option("--videos", min=1, help="number of videos [default: corpus.videos]"),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="master seed [default: corpus.seed]")
    ] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Generate sample photography-tutorial videos with exact ground truth.

    Each video holds 2-4 shooting events (camera-app viewfinder frames whose framing improves,
    then the finished photo full screen), transitions (cuts, fades) and distractor segments.
    Writes OUT/videos/*.mp4, OUT/truth/<video_id>.json (+ clean poor/good PNGs) and
    OUT/manifest.jsonl. Deterministic for a given seed. Schema: docs/data-contracts.md.
    """
    cfg = _load(params, profile)
    update = {k: v for k, v in {"videos": videos, "seed": seed}.items() if v is not None}
    corpus_cfg = cfg.corpus.model_copy(update=update)
    ensure_dir(out)
    from aesformer.corpus.stage import run as run_corpus

    _run_stage("corpus", cfg, corpus_cfg, lambda: run_corpus(corpus_cfg, out))


# --------------------------------------------------------------------------- mine / align
def _log_sample_pairs(pairs_dir: Path, stage: str) -> None:
    """A contact sheet of the first pairs (poor | good) as an MLflow artifact of the run."""
    from aesformer import tracking
    from aesformer.viz import pair_grid

    if (pairs_dir / "pairs.jsonl").is_file() and (grid := pair_grid(pairs_dir)) is not None:
        tracking.log_image(grid, f"{stage}/sample_pairs.png")


@app.command("mine")
def mine(
    videos: Annotated[
        Path,
        typer.Option("--videos", help="folder of videos, or a manifest.jsonl (path/uri per line)"),
    ] = Path("data/raw/manifest.jsonl"),
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="output folder (pairs.jsonl, rejects.jsonl, report.json, images/)"
        ),
    ] = Path("data/mined"),
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="videos mined in parallel [default: mine.workers]"),
    ] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """VCMP: mine (poor, good) photo pairs from photography-tutorial videos.

    Per video: event segments, the finished photo shown full screen (good), the matching
    viewfinder frame (poor) with the camera UI, subtitles and grid removed, and the narration.
    A failed video is recorded in rejects.jsonl/report.json and the others go on; the exit
    status is non-zero only when every video failed. Re-runs mine only new videos.
    """
    cfg = _load(params, profile)
    if not videos.exists():
        raise InputError(f"{videos}: no such folder or manifest")
    ensure_dir(out)
    from aesformer.mining.stage import run as run_mine

    _run_stage(
        "mine",
        cfg,
        cfg.mine,
        lambda: run_mine(cfg.mine, videos, out, workers=workers, orchestration=cfg.orchestration),
        lambda: _log_sample_pairs(out, "mine"),
    )


@app.command("align")
def align(
    pairs: Annotated[
        Path, typer.Option("--pairs", help="folder written by `aesformer mine`")
    ] = Path("data/mined"),
    out: Annotated[
        Path, typer.Option("--out", help="output folder (same schema + alignment)")
    ] = Path("data/aligned"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Keep only pairs of the same person in the same scene with no new objects.

    Writes the passed pairs with their alignment measures and the estimated poor->good
    transform; failed pairs go to rejects.jsonl with a reason code.
    """
    cfg = _load(params, profile)
    _require_pairs(pairs, "aesformer mine")
    ensure_dir(out)
    from aesformer.align.stage import run as run_align

    _run_stage(
        "align",
        cfg,
        cfg.align,
        lambda: run_align(cfg.align, pairs, out),
        lambda: _log_sample_pairs(out, "align"),
    )


@app.command("annotate")
def annotate(
    pairs: Annotated[
        Path, typer.Option("--pairs", help="folder written by `aesformer align`")
    ] = Path("data/aligned"),
    out: Annotated[
        Path, typer.Option("--out", help="output folder (pairs + plan, rejects, report, images)")
    ] = Path("data/annotated"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Write a validated seven-dimension editing plan for every aligned pair.

    The teacher (annotate.teacher: geometric offline, or an OpenAI-compatible VLM) writes the
    plan; the validator checks its format and its consistency with the measured changes and
    asks again up to annotate.max_retries times, then rejects the pair with a reason.
    """
    cfg = _load(params, profile)
    _require_pairs(pairs, "aesformer align")
    ensure_dir(out)
    from aesformer.annotate.stage import run as run_annotate

    _run_stage("annotate", cfg, cfg.annotate, lambda: run_annotate(cfg.annotate, pairs, out))


@app.command("split")
def split(
    pairs: Annotated[
        Path, typer.Option("--pairs", help="folder written by `aesformer annotate`")
    ] = Path("data/annotated"),
    out: Annotated[
        Path, typer.Option("--out", help="output folder (pairs + split, rejects, report, images)")
    ] = Path("data/split"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Assign every pair to train/val/test by video (no video in two splits).

    Deterministic for split.seed; ratios from split.ratios. The report holds split sizes and
    per-dimension statistics of the plans.
    """
    cfg = _load(params, profile)
    _require_pairs(pairs, "aesformer annotate")
    ensure_dir(out)
    from aesformer.split import run as run_split

    _run_stage("split", cfg, cfg.split, lambda: run_split(cfg.split, pairs, out))


@app.command("gate")
def gate(
    split_dir: Annotated[
        Path, typer.Option("--split", help="folder written by `aesformer split`")
    ] = Path("data/split"),
    docs: Annotated[
        Path, typer.Option("--docs", help="where the Great Expectations data docs (HTML) go")
    ] = Path("reports/gate"),
    quarantine: Annotated[
        Path, typer.Option("--quarantine", help="failing candidates are moved below this")
    ] = Path("data/quarantine"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """The data-quality gate: a Great Expectations checkpoint over the split, before release.

    Pass: writes data docs and exits 0. Fail: writes data docs, moves the split folder to
    QUARANTINE/<id>/ (nothing is deleted), prints which expectations failed and exits 2.
    Both ways the data docs are logged to MLflow (artifacts gate/data_docs).
    """
    cfg = _load(params, profile)
    from aesformer import tracking
    from aesformer.quality import GateFailed, run_gate

    with tracking.stage_run("gate", cfg.tracking, cfg.gate, root=project_root()):
        try:
            result = run_gate(cfg.gate, split_dir, docs, quarantine)
        except GateFailed as exc:
            tracking.log_metrics({"gate_passed": 0, "failed_expectations": len(exc.result.failed)})
            tracking.log_artifacts(docs, "gate/data_docs")
            raise
        tracking.log_metrics(
            {"gate_passed": 1, "expectations": result.evaluated, "pairs": result.rows}
        )
        tracking.log_artifacts(docs, "gate/data_docs")
    typer.echo(result.summary)
    typer.echo(f"data docs: {result.docs_index}")


@app.command("export")
def export(
    split_dir: Annotated[
        Path, typer.Option("--split", help="gated folder written by `aesformer split`")
    ] = Path("data/split"),
    out: Annotated[
        Path, typer.Option("--out", help="release folder (manifest.parquet, images/, jsons/)")
    ] = Path("data/release"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Build the release folder: manifest.parquet and the AesRecon-compatible export.

    images/{good_images,poor_images}/, jsons/{train,val}/{Stage1_a,Stage1_b,Stage2}/ (the
    SFT, GRPO and editor training shapes) and jsons/test/. Deterministic; docs/release.md.
    """
    cfg = _load(params, profile)
    _require_pairs(split_dir, "dvc repro split")
    from aesformer.release import build_release

    _run_stage("release", cfg, cfg.release, lambda: build_release(split_dir, out, cfg.release))


@app.command("release")
def release(
    version: Annotated[
        str, typer.Option("--version", help="release version, MAJOR.MINOR.PATCH[-pre]")
    ],
    release_dir: Annotated[
        Path, typer.Option("--dir", help="the DVC-tracked release folder")
    ] = Path("data/release"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Publish a release: git tag data-v<VERSION>, dvc push to the remote, MLflow dataset.

    The release folder must be tracked by DVC with its pointer (dvc.lock or .dvc) committed.
    A version that exists with other data is refused; the same data again is a no-op that
    says so; an unreachable remote keeps the local release and the tag, and re-running
    pushes. Pull a version with: git checkout data-v<VERSION> && dvc pull <dir>.
    """
    cfg = _load(params, profile)
    from aesformer.release import publish

    result = publish(project_root(), release_dir, version, cfg.remote, cfg.tracking, cfg.release)
    typer.echo(result.message)
    typer.echo(
        json.dumps(
            {
                "status": result.status,
                "tag": result.tag,
                "digest": result.digest,
                "dataset": result.dataset_name,
                "source": result.source,
                "mlflow_run_id": result.mlflow_run_id,
            },
            indent=2,
        )
    )


@app.command("import-aesrecon")
def import_aesrecon_cmd(
    path: Annotated[Path, typer.Argument(help="a downloaded AesRecon folder (images/, jsons/)")],
    out: Annotated[Path, typer.Option("--out", help="release folder to build")] = Path(
        "data/aesrecon-release"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Turn a downloaded AesRecon dataset into a release (and skip mining).

    Reads its images and JSONs into a split folder (OUT.split/), runs the data-quality gate on
    it (data docs in OUT.gate-docs/; the splits it ships are the required ones: AesRecon has
    train and test), then builds the release in OUT. Track and publish it
    with: dvc add OUT && git add OUT.dvc && git commit && aesformer release --dir OUT --version X.
    """
    cfg = _load(params, profile)
    if not path.is_dir():
        raise InputError(f"{path}: no such folder")
    from aesformer.quality import run_gate
    from aesformer.release import build_release, import_aesrecon

    staging = out.with_name(out.name + ".split")
    docs = out.with_name(out.name + ".gate-docs")
    imported = import_aesrecon(path, staging, link_images=cfg.release.link_images)
    present = [k for k in ("train", "val", "test") if imported.get(f"pairs_{k}", 0)]
    # AesRecon carries no mining provenance (alignment, scores) and ships train + test only
    gate_cfg = cfg.gate.model_copy(
        update={
            "required_splits": present or ["train"],
            "require_alignment": False,
            "score_ranges": {},
        }
    )
    gate_result = run_gate(gate_cfg, staging, docs, out.parent / "quarantine")
    summary = build_release(staging, out, cfg.release)
    typer.echo(gate_result.summary)
    typer.echo(json.dumps({"imported": imported, "release": summary}, indent=2, default=str))


def _release_input(cfg: Params, release_dir: Path, context: str) -> str:
    """Log the release as the active run's dataset input; return its version (the git tag's,
    or ``unreleased-<digest>`` before it is published)."""
    from aesformer.release import find_version, log_release_input

    root = project_root()
    digest = log_release_input(root, release_dir, context=context, cfg=cfg.release)
    return find_version(root, digest, cfg.release) or f"unreleased-{digest[:12]}"


def _register_stage(
    cfg: Params,
    release_dir: Path,
    summary: dict[str, Any],
    register: Callable[[str, dict[str, float]], Any],
) -> None:
    """After a training stage: the release as the run's dataset input, then
    ``register(release_version, numeric summary)`` (a new registered model version); the
    version is recorded in ``summary``."""
    version = _release_input(cfg, release_dir, "training")
    numeric = {
        k: float(v)
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    registered = register(version, numeric)
    summary["registered_model"] = f"models:/{registered.name}/{registered.version}"
    summary["release_version"] = version


def _register_thinker_stage(
    cfg: Params, stage: str, adapter: Path, release_dir: Path, summary: dict[str, Any]
) -> None:
    """A new version of ``aesthinker`` (adapter + base reference) after a thinker stage."""
    from aesformer.thinker.registry import register_thinker

    _register_stage(
        cfg,
        release_dir,
        summary,
        lambda version, numeric: register_thinker(
            adapter,
            cfg.models.thinker.base_model,
            stage,
            version,
            revision=cfg.models.thinker.revision,
            root=project_root(),
            metrics=numeric,
        ),
    )


@app.command("sft")
def sft(
    release_dir: Annotated[
        Path, typer.Option("--release", help="release folder (jsons/train/Stage1_a, images)")
    ] = Path("data/release"),
    out: Annotated[
        Path, typer.Option("--out", help="adapter, tokenizer and processor folder")
    ] = Path("models/thinker/sft"),
    metrics: Annotated[
        Path, typer.Option("--metrics", help="DVC metrics JSON (loss, format validity, alignment)")
    ] = Path("reports/thinker/sft.json"),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="ignore checkpoints in OUT and start over")
    ] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """AesThinker stage 1(a): LoRA SFT of the Qwen3-VL base on the release's plans.

    Resumes from the last checkpoint in OUT/checkpoints unless --fresh. Evaluates on val
    (plan format validity, alignment), logs curves to MLflow and registers a new version of
    the `aesthinker` model (adapter + base by reference).
    """
    cfg = _load(params, profile)
    if not (release_dir / "jsons").is_dir():
        raise InputError(f"{release_dir}: not a release folder (run `dvc repro release`)")
    from aesformer.thinker.sft import train_sft

    def work() -> dict[str, Any]:
        summary = train_sft(
            cfg.sft,
            release_dir,
            cfg.models.thinker.base_model,
            out,
            resume=not fresh,
            revision=cfg.models.thinker.revision,
            metrics=metrics,
        )
        _register_thinker_stage(cfg, "sft", out, release_dir, summary)
        return summary

    _run_stage("sft", cfg, cfg.sft, work)


@app.command("grpo")
def grpo(
    release_dir: Annotated[
        Path, typer.Option("--release", help="release folder (jsons/train/Stage1_b, images)")
    ] = Path("data/release"),
    sft_adapter: Annotated[
        Path, typer.Option("--sft", help="the sft stage's adapter folder (the starting policy)")
    ] = Path("models/thinker/sft"),
    out: Annotated[
        Path, typer.Option("--out", help="adapter, tokenizer and processor folder")
    ] = Path("models/thinker/grpo"),
    metrics: Annotated[
        Path,
        typer.Option("--metrics", help="DVC metrics JSON (reward first/last steps, vs SFT)"),
    ] = Path("reports/thinker/grpo.json"),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="ignore checkpoints in OUT and start over")
    ] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """AesThinker stage 1(b): GRPO-A from the SFT adapter with the format, alignment and
    creativity rewards.

    Resumes from the last checkpoint in OUT/checkpoints unless --fresh. Compares the GRPO and
    the SFT policy's mean reward on the same prompts, logs rewards per step to MLflow and
    registers a new version of the `aesthinker` model (adapter + base by reference).
    """
    cfg = _load(params, profile)
    if not (release_dir / "jsons").is_dir():
        raise InputError(f"{release_dir}: not a release folder (run `dvc repro release`)")
    if not (sft_adapter / "adapter_config.json").is_file():
        raise InputError(f"{sft_adapter}: no adapter_config.json (run `dvc repro sft` first)")
    from aesformer.thinker.grpo import train_grpo

    def work() -> dict[str, Any]:
        summary = train_grpo(
            cfg.grpo,
            cfg.rewards,
            release_dir,
            cfg.models.thinker.base_model,
            sft_adapter,
            out,
            metrics_path=metrics,
            resume=not fresh,
            revision=cfg.models.thinker.revision,
        )
        _register_thinker_stage(cfg, "grpo", out, release_dir, summary)
        return summary

    _run_stage("grpo", cfg, cfg.grpo, work)


@app.command("plan")
def plan_cmd(
    image: Annotated[Path, typer.Argument(help="a photo (PNG/JPEG)")],
    model: Annotated[
        str,
        typer.Option("--model", help="registered model URI or a local adapter folder"),
    ] = "models:/aesthinker@latest",
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Write the seven-dimension editing plan for a photo with a trained AesThinker."""
    cfg = _load(params, profile)
    if not image.is_file():
        raise InputError(f"{image}: no such image")
    from aesformer.thinker.registry import load_planner
    from aesformer.thinker.registry import plan as write_plan

    if Path(model).is_dir():
        loaded: Any = load_planner(Path(model))
    else:
        import mlflow

        from aesformer.tracking import resolve_tracking_uri, use_tracking_uri

        use_tracking_uri(resolve_tracking_uri(cfg.tracking, project_root()))
        loaded = mlflow.pyfunc.load_model(model)
    text, parsed = write_plan(loaded, str(image))
    typer.echo(text)
    if parsed is None:
        raise AesformerError(f"{image}: the model's answer is not a well-formed plan")


def _registry_client(cfg: Params) -> Any:
    from mlflow import MlflowClient

    from aesformer.tracking import resolve_tracking_uri

    return MlflowClient(tracking_uri=resolve_tracking_uri(cfg.tracking, project_root()))


@app.command("eval")
def eval_cmd(
    release_dir: Annotated[
        Path, typer.Option("--release", help="release folder (manifest.parquet, images)")
    ] = Path("data/release"),
    out: Annotated[
        Path,
        typer.Option("--out", help="metrics.json, table.md, plan_dimensions.json and grids/"),
    ] = Path("reports/eval"),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Benchmark the candidate AesThinker + AesEditor pair and the baselines (identity, editor
    without a plan, a generic plan, the ground-truth plan) on the release's test split, and the
    pair in staging on the same pairs; prints the table."""
    cfg = _load(params, profile)
    if not (release_dir / "manifest.parquet").is_file():
        raise InputError(f"{release_dir}: not a release folder (run `dvc repro release`)")
    from aesformer.evaluation.stage import run_eval
    from aesformer.tracking import resolve_tracking_uri, use_tracking_uri

    root = project_root()

    def work() -> dict[str, Any]:
        import mlflow

        version = _release_input(cfg, release_dir, "evaluation")
        client = _registry_client(cfg)
        report = run_eval(cfg.eval, cfg.promote, release_dir, out, client, version)
        if mlflow.active_run() is not None:
            mlflow.log_artifact(str(out / "table.md"))
            mlflow.log_artifact(str(out / "metrics.json"))
            if (out / "grids").is_dir():
                mlflow.log_artifacts(str(out / "grids"), artifact_path="grids")
            mlflow.set_tags(
                {f"eval.candidate.{k}": v for k, v in report["candidate"]["versions"].items()}
            )
            run_id = mlflow.active_run().info.run_id
            for name, number in report["candidate"]["versions"].items():
                client.set_model_version_tag(name, number, "eval.run_id", run_id)
                client.set_model_version_tag(name, number, "eval.release_version", version)
        typer.echo((out / "table.md").read_text(encoding="utf-8"))
        return {
            f"{system}.{key}": value
            for system, means in report["systems"].items()
            for key, value in means.items()
        }

    use_tracking_uri(resolve_tracking_uri(cfg.tracking, root))
    _run_stage("eval", cfg, cfg.eval, work)


@app.command("reconstruct")
def reconstruct_cmd(
    photos: Annotated[list[Path], typer.Argument(help="photos, or folders of photos")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output folder")],
    thinker: Annotated[
        str, typer.Option("--thinker", help="registered AesThinker (models:/name/N or @alias)")
    ] = "models:/aesthinker@staging",
    editor: Annotated[
        str, typer.Option("--editor", help="registered AesEditor (models:/name/N or @alias)")
    ] = "models:/aeseditor@staging",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace existing outputs")
    ] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Plan with AesThinker, then edit with AesEditor: OUT/<name>.png, .plan.txt, .side.png.

    Exit 0 when every photo was reconstructed (or already was), 2 when one or more failed
    (each named on stderr; the others are still written).
    """
    cfg = _load(params, profile)
    from aesformer.evaluation.models import PyfuncEditor, PyfuncPlanner, load_pyfunc
    from aesformer.evaluation.promotion import resolve_pair
    from aesformer.evaluation.reconstruct import reconstruct
    from aesformer.tracking import resolve_tracking_uri, use_tracking_uri

    use_tracking_uri(resolve_tracking_uri(cfg.tracking, project_root()))
    client = _registry_client(cfg)
    pinned = resolve_pair(client, thinker, editor, cfg.promote)  # fail before loading
    planner, editing = (
        PyfuncPlanner(load_pyfunc(f"models:/{pinned[0][0]}/{pinned[0][1]}")),
        PyfuncEditor(load_pyfunc(f"models:/{pinned[1][0]}/{pinned[1][1]}")),
    )
    result = reconstruct(photos, out, planner, editing, overwrite=overwrite)
    typer.echo(
        f"{len(result.written)} reconstructed, {len(result.skipped)} already there, "
        f"{len(result.errors)} failed -> {out} (thinker {pinned[0][0]} v{pinned[0][1]}, "
        f"editor {pinned[1][0]} v{pinned[1][1]})"
    )
    if result.errors:
        for message in result.errors:
            typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2)


@app.command("compose")
def compose_cmd(
    thinker: Annotated[
        str, typer.Option("--thinker", help="registered AesThinker (models:/name/N or @alias)")
    ] = "models:/aesthinker@staging",
    editor: Annotated[
        str, typer.Option("--editor", help="registered AesEditor (models:/name/N or @alias)")
    ] = "models:/aeseditor@staging",
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Register the two-stage system as a new version of the pyfunc model `aesformer`, pinning
    the versions THINKER and EDITOR resolve to now (serve it with `mlflow models serve`)."""
    cfg = _load(params, profile)
    from aesformer.evaluation.composite import register_composite
    from aesformer.tracking import resolve_tracking_uri, stage_run, use_tracking_uri

    use_tracking_uri(resolve_tracking_uri(cfg.tracking, project_root()))
    with stage_run("compose", cfg.tracking, root=project_root()):
        version = register_composite(
            thinker, editor, _registry_client(cfg), promote_cfg=cfg.promote
        )
    typer.echo(
        f"models:/{version.name}/{version.version} (thinker v{version.tags['thinker_version']}, "
        f"editor v{version.tags['editor_version']})"
    )


@app.command("promote")
def promote_cmd(
    metrics: Annotated[
        Path, typer.Option("--metrics", help="the eval stage's report (candidate vs staging)")
    ] = Path("reports/eval/metrics.json"),
    thinker: Annotated[
        str | None, typer.Option("--thinker", help="aesthinker version (checked vs the report)")
    ] = None,
    editor: Annotated[
        str | None, typer.Option("--editor", help="aeseditor version (checked vs the report)")
    ] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Move the `staging` aliases to the evaluated pair if every promotion rule passes.

    Exit status 0: promoted (or already in staging); 3: refused (the message names each failed
    metric and by how much); 2: bad input (stale report, unknown version).
    """
    cfg = _load(params, profile)
    from aesformer.evaluation.promotion import promote_from_report, read_report
    from aesformer.tracking import git_info

    report = read_report(metrics)
    decision = promote_from_report(
        _registry_client(cfg),
        report,
        cfg.promote,
        git_commit=git_info(project_root()).get("git.commit", "unknown"),
        versions={cfg.promote.thinker_model: thinker, cfg.promote.editor_model: editor},
    )
    typer.echo(json.dumps(decision.as_dict(), indent=2))
    if not (decision.promote or decision.unchanged):
        typer.echo(decision.message(), err=True)
        raise typer.Exit(3)


@app.command("promote-production")
def promote_production_cmd(
    model: Annotated[str, typer.Option("--model", help="registered model name")],
    version: Annotated[str, typer.Option("--version", help="a version now in staging")],
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Move the `production` alias of MODEL to VERSION, which must hold `staging`."""
    cfg = _load(params, profile)
    from aesformer.evaluation.promotion import promote_to_production

    before = promote_to_production(_registry_client(cfg), model, version, cfg.promote)
    typer.echo(f"{model} version {version} -> {cfg.promote.production_alias} (was {before})")


@app.command("mine-eval")
def mine_eval(
    pairs: Annotated[
        Path, typer.Option("--pairs", help="folder with pairs.jsonl (mine or align output)")
    ] = Path("data/aligned"),
    truth: Annotated[
        Path, typer.Option("--truth", help="corpus folder (manifest.jsonl, truth/)")
    ] = Path("data/raw"),
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="also write the numbers here (DVC metrics JSON)"),
    ] = None,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Score mined pairs against the corpus ground truth.

    Pair precision and recall, overlay residue (OCR boxes left on cleaned poor images),
    SSIM of cleaned poor vs the true clean poor image and the narration's character error
    rate against the true subtitles, with the targets each must meet.
    """
    cfg = _load(params, profile)
    for folder in (pairs, truth):
        if not folder.is_dir():
            raise InputError(f"{folder}: no such folder")
    from aesformer import tracking
    from aesformer.mining.evaluate import evaluate, write_metrics

    with tracking.stage_run("mine-eval", cfg.tracking, root=project_root()):
        result = evaluate(pairs, truth)
        tracking.log_metrics(result)
    if metrics is not None:
        write_metrics(result, metrics)
    typer.echo(json.dumps(result, indent=2))


# --------------------------------------------------------------------------- models
@models_app.command("build-tiny")
def models_build_tiny(
    out: Annotated[Path, typer.Option("--out", help="output folder (thinker/, editor/)")] = Path(
        "models/base"
    ),
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Build the tiny random-initialised thinker (Qwen3-VL) and editor (Qwen-Image-Edit) bases.

    Offline and deterministic; saved in Hugging Face format (safetensors) so the trainers load
    them with the same from_pretrained calls they use for the real hub checkpoints.
    """
    cfg = _load(params, profile)
    ensure_dir(out)
    from aesformer import tracking
    from aesformer.zoo.stage import build_tiny

    with tracking.stage_run("models", cfg.tracking, cfg.models, root=project_root()):
        summary = build_tiny(cfg.models, out)
        tracking.log_metrics(summary)
    typer.echo(json.dumps(summary, indent=2))


# --------------------------------------------------------------------------- remote
@remote_app.command("apply")
def remote_apply(
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Write the DVC remote of params (remote.*) into .dvc/config.local and make it default.

    Credentials are not written: DVC/boto3 read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the
    named AWS profile from the environment at push/pull time.
    """
    cfg = _load(params, profile)
    from aesformer.storage import configure_dvc_remote

    configure_dvc_remote(cfg.remote, project_root())
    typer.echo(f"DVC remote {cfg.remote.name!r} -> {cfg.remote.url} (default)")


# --------------------------------------------------------------------------- editor
def _register_editor_stage(
    cfg: Params, adapter: Path, release_dir: Path, summary: dict[str, Any]
) -> None:
    """A new version of ``aeseditor`` (LoRA + base reference) after the editor stage."""
    from aesformer.editor.registry import register_editor

    _register_stage(
        cfg,
        release_dir,
        summary,
        lambda version, numeric: register_editor(
            adapter,
            cfg.models.editor.base_model,
            version,
            revision=cfg.models.editor.revision,
            root=project_root(),
            metrics=numeric,
        ),
    )


@app.command("editor")
def editor(
    release_dir: Annotated[
        Path, typer.Option("--release", help="release folder (jsons/*/Stage2, images)")
    ] = Path("data/release"),
    out: Annotated[Path, typer.Option("--out", help="LoRA adapter folder (+ checkpoints/)")] = Path(
        "models/editor"
    ),
    cache: Annotated[
        Path, typer.Option("--cache", help="latents / text-states cache (safetensors shards)")
    ] = Path("data/editor_cache"),
    metrics: Annotated[
        Path, typer.Option("--metrics", help="DVC metrics JSON (loss evidence, val MSE / SSIM)")
    ] = Path("reports/editor/metrics.json"),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="ignore checkpoints in OUT and start over")
    ] = False,
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """AesEditor: flow-matching LoRA of the Qwen-Image-Edit-Plus base on the release's pairs.

    Caches VAE latents and text states (skips cached pairs), trains with checkpoints (resumes
    from the last one in OUT/checkpoints unless --fresh), validates edits on val pairs (grids
    to MLflow) and registers a new version of the `aeseditor` model (LoRA + base by reference).
    """
    cfg = _load(params, profile)
    if not (release_dir / "jsons").is_dir():
        raise InputError(f"{release_dir}: not a release folder (run `dvc repro release`)")
    from aesformer.editor.stage import train_editor

    def work() -> dict[str, Any]:
        summary = train_editor(
            cfg.editor,
            release_dir,
            cfg.models.editor.base_model,
            out,
            cache,
            revision=cfg.models.editor.revision,
            metrics=metrics,
            resume=not fresh,
        )
        _register_editor_stage(cfg, out, release_dir, summary)
        return summary

    _run_stage("editor", cfg, cfg.editor, work)


@app.command("edit")
def edit_cmd(
    image: Annotated[Path, typer.Argument(help="a photo (PNG/JPEG)")],
    plan: Annotated[Path, typer.Option("--plan", help="text file holding the editing plan")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the PNG")],
    model: Annotated[
        str,
        typer.Option("--model", help="registered model URI or a local adapter folder"),
    ] = "models:/aeseditor@latest",
    params: ParamsOpt = DEFAULT_PARAMS,
    profile: ProfileOpt = None,
) -> None:
    """Edit a photo following a plan with a trained AesEditor (output at the trained size)."""
    cfg = _load(params, profile)
    for path in (image, plan):
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    from aesformer.editor.registry import edit_with, load_editor

    if Path(model).is_dir():
        loaded: Any = load_editor(Path(model))
    else:
        import mlflow

        from aesformer.tracking import resolve_tracking_uri, use_tracking_uri

        use_tracking_uri(resolve_tracking_uri(cfg.tracking, project_root()))
        loaded = mlflow.pyfunc.load_model(model)
    result = edit_with(loaded, str(image), plan.read_text(encoding="utf-8"))
    ensure_dir(output.parent)
    result.save(output, format="PNG")
    typer.echo(f"{output} ({result.width}x{result.height})")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point with the one-line error contract.

    Usage errors are handled by Typer (exit 2, usage shown); project errors and OS errors on
    user-supplied paths become ``error: ...`` on stderr and exit 2.
    """
    apply_embedded_env()
    setup_logging()
    try:
        app(args=argv, prog_name="aesformer")
    except AesformerError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        # MLflow's own errors (a tracking server down, a registry refusal): one line too. If
        # mlflow was never imported, the error cannot be one of them.
        mlflow_errors = sys.modules.get("mlflow.exceptions")
        if mlflow_errors is None or not isinstance(exc, mlflow_errors.MlflowException):
            raise
        first = str(exc.message).strip().splitlines()[0] if str(exc.message).strip() else ""
        typer.echo(f"error: MLflow: {first or type(exc).__name__}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
