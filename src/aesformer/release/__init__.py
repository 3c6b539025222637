"""The release: an AesRecon-compatible, versioned dataset (docs/release.md).

Public API::

    build_release(split_dir, out, cfg=None) -> summary          # export (manifest, images, JSONs)
    release_digest(release_dir, verify=False) -> str             # content digest (MLflow, tags)
    import_aesrecon(path, out, link_images=True) -> summary      # AesRecon folder -> split folder
    publish(root, release_dir, version, remote_cfg, tracking_cfg, cfg=None) -> PublishResult
    log_release_input(root, release_dir, context="training")     # a training run's dataset input
"""

from aesformer.release.aesrecon import import_aesrecon
from aesformer.release.export import MANIFEST_COLUMNS, build_release, read_manifest, release_digest
from aesformer.release.version import (
    PublishResult,
    PushFailed,
    VersionExists,
    check_version,
    find_version,
    log_release_input,
    publish,
    releases,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "PublishResult",
    "PushFailed",
    "VersionExists",
    "build_release",
    "check_version",
    "find_version",
    "import_aesrecon",
    "log_release_input",
    "publish",
    "read_manifest",
    "release_digest",
    "releases",
]
