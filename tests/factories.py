"""Shared test inputs: the small corpus that mining tests generate, and S3 buckets."""

from __future__ import annotations

import time
from typing import Any

from aesformer.config import CorpusConfig

#: Two events of 3 s viewfinder + 1.5 s finished photo, 640x360, no distractors: the smallest
#: video on which every mining step has something to decide (about 10 s of video).
MINING_CORPUS = CorpusConfig(
    resolutions=[(640, 360)],
    fps=[25],
    events_per_video=(2, 2),
    viewfinder_seconds=(3.0, 3.0),
    good_hold_seconds=(1.5, 1.5),
    transition_seconds=(0.4, 0.4),
    distractors=False,
)


def s3_client_with_bucket(s3: dict[str, str], bucket: str) -> Any:
    """A boto3 client of the test S3 server (``tests.servers.seaweedfs_s3``) with ``bucket``
    created; retries while the freshly started server is still electing its volumes."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3["endpoint_url"],
        aws_access_key_id=s3["aws_access_key_id"],
        aws_secret_access_key=s3["aws_secret_access_key"],
        region_name="us-east-1",
    )
    for attempt in range(20):
        try:
            client.create_bucket(Bucket=bucket)
            return client
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.5)
    return client
