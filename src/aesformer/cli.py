"""``aesformer``: one command per pipeline stage, plus config and remote helpers.

Config is parsed once here and passed down as typed models. Heavy libraries (torch, mlflow,
transformers, diffusers) are imported inside the commands so ``aesformer --help`` stays fast.
Errors the user can fix (bad params, missing input, unwritable output) print one line
``error: ...`` and exit with status 2; no traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from aesformer.config import DEFAULT_PARAMS, Params, dump_params, load_params
from aesformer.errors import AesformerError, OutputError
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


def writable_dir(path: Path) -> Path:
    """Create ``path`` (and parents) or raise :class:`OutputError` naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    return path


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
    writable_dir(out)
    from aesformer import tracking
    from aesformer.corpus.stage import run as run_corpus

    with tracking.stage_run("corpus", cfg.tracking, corpus_cfg, root=project_root()):
        summary = run_corpus(corpus_cfg, out)
        tracking.log_metrics(summary)
    typer.echo(json.dumps(summary, indent=2))


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
    writable_dir(out)
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


if __name__ == "__main__":
    main()
