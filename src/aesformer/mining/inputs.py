"""Input resolution: a folder of videos or a ``manifest.jsonl`` (local paths, s3://, https://);
a folder that holds a ``manifest.jsonl`` means that manifest.

Every input becomes a :class:`VideoInput`; one that cannot be used carries a reject reason
instead of a path (``path_escapes_root``, ``missing_file``, ``bad_manifest_line``,
``download_failed``, ``downloader_unavailable``, ``unsupported_uri``). Local manifest paths must
stay inside the manifest's folder. ``s3://`` objects are fetched with boto3: credentials and
endpoint from the environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or
``AWS_PROFILE``; ``AWS_ENDPOINT_URL_S3`` for MinIO/SeaweedFS); ``https://`` pages only when
yt-dlp is importable.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


@dataclass(frozen=True)
class VideoInput:
    """One video to mine, or the reason it cannot be."""

    video_id: str
    source: str
    path: Path | None = None
    sha256: str | None = None
    reason: str | None = None
    detail: str = ""


def resolve(videos: Path, download_dir: Path) -> list[VideoInput]:
    """The inputs named by ``videos``, in a stable order: a manifest file, a folder holding a
    ``manifest.jsonl`` (that manifest), or a folder of video files."""
    if videos.is_dir() and (videos / "manifest.jsonl").is_file():
        return _from_manifest(videos / "manifest.jsonl", download_dir)
    if videos.is_dir():
        files = sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        return [VideoInput(p.stem, str(p), p) for p in files if p.is_file()]
    return _from_manifest(videos, download_dir)


def _from_manifest(manifest: Path, download_dir: Path) -> list[VideoInput]:
    root = manifest.parent.resolve()
    out: list[VideoInput] = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            out.append(
                VideoInput(
                    f"line_{number}",
                    f"{manifest}:{number}",
                    reason="bad_manifest_line",
                    detail=str(exc),
                )
            )
            continue
        out.append(_entry(entry, number, manifest, root, download_dir))
    return out


def _entry(entry: dict, number: int, manifest: Path, root: Path, download_dir: Path) -> VideoInput:
    source = str(entry.get("uri") or entry.get("path") or f"{manifest}:{number}")
    stem = Path(source.split("?")[0]).stem or f"line_{number}"
    video_id = str(entry.get("video_id") or stem)
    sha = entry.get("sha256")
    if "uri" in entry and "://" in str(entry["uri"]):
        return _remote(str(entry["uri"]), video_id, sha, download_dir)
    if "path" not in entry and "uri" not in entry:
        return VideoInput(video_id, source, reason="bad_manifest_line", detail="no path or uri")
    target = (root / source).resolve()
    if not target.is_relative_to(root):
        return VideoInput(
            video_id, source, reason="path_escapes_root", detail=f"{source} is outside {root}"
        )
    if not target.is_file():
        return VideoInput(video_id, source, reason="missing_file", detail=f"{target} not found")
    return VideoInput(video_id, source, target, sha)


def _remote(uri: str, video_id: str, sha: str | None, download_dir: Path) -> VideoInput:
    download_dir.mkdir(parents=True, exist_ok=True)
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        dest = download_dir / f"{video_id}{Path(key).suffix or '.mp4'}"
        if not dest.is_file():
            try:
                import boto3

                tmp = dest.with_name(f".{dest.name}.partial")
                # a new session each time: boto3's default session caches the credentials it
                # first found, so a long-lived worker would never see rotated ones
                boto3.session.Session().client("s3").download_file(bucket, key, str(tmp))
                tmp.replace(dest)
            except Exception as exc:  # noqa: BLE001 - any client error is one reject reason
                return VideoInput(video_id, uri, reason="download_failed", detail=str(exc)[:300])
        return VideoInput(video_id, uri, dest, sha)
    if uri.startswith(("https://", "http://")):
        if importlib.util.find_spec("yt_dlp") is None:
            return VideoInput(
                video_id, uri, reason="downloader_unavailable", detail="yt-dlp is not installed"
            )
        return _yt_dlp(uri, video_id, sha, download_dir)
    return VideoInput(video_id, uri, reason="unsupported_uri", detail=uri.split("://")[0])


def _yt_dlp(uri: str, video_id: str, sha: str | None, download_dir: Path) -> VideoInput:
    import yt_dlp

    template = str(download_dir / f"{video_id}.%(ext)s")
    try:
        with yt_dlp.YoutubeDL({"outtmpl": template, "format": "mp4/bestvideo", "quiet": True}) as y:
            info = y.extract_info(uri, download=True)
            path = Path(y.prepare_filename(info))
    except Exception as exc:  # noqa: BLE001 - any downloader error is one reject reason
        return VideoInput(video_id, uri, reason="download_failed", detail=str(exc)[:300])
    return VideoInput(video_id, uri, path, sha)
