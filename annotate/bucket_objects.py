"""Reading a bucket source (annotate.buckets): its S3 client and its objects, for the
registration, the decoding workers, the video pipeline and media serving. Every connection
to a source's endpoint is checked first (annotate.outbound): only globally routable
addresses, unless settings.BUCKET_ALLOW_LOOPBACK lets loopback in (tests, a local
S3-compatible server).

A source without credentials is read anonymously (unsigned requests): the server's own
cloud credentials (environment, instance role) are never lent to a user's bucket.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp
from django.conf import settings

from annotate.models import Asset, BucketSource
from annotate.outbound import OutboundRefused, endpoint_check

__all__ = ["BucketUnreadable", "OutboundRefused", "asset_open", "endpoint_refusal", "s3_client"]

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


class BucketUnreadable(Exception):
    """The bucket or an object of it cannot be read (refused address, credentials, absent)."""


def endpoint_refusal(endpoint_url: str) -> str | None:
    """Why the endpoint may not be called, in words; None when it may (empty: AWS S3)."""
    if not endpoint_url:
        return None
    try:
        endpoint_check(
            endpoint_url,
            allow_loopback=settings.BUCKET_ALLOW_LOOPBACK,
            setting="BUCKET_ALLOW_LOOPBACK",
        )
    except OutboundRefused as error:
        return str(error)
    return None


def _timestamp(value: str) -> datetime.datetime:
    """An S3 timestamp (ISO 8601, as every listing's LastModified) parsed by the standard
    library; anything else by botocore's own parser. botocore's default (dateutil) spends
    some 80 µs a key: 80 % of the client's time on a 1,000-key listing page."""
    try:
        return datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)


def _session() -> boto3.session.Session:
    """A session of its own whose response parsers use `_timestamp` (botocore's documented
    parser defaults, as the AWS CLI sets them), so other boto3 clients are left alone."""
    core = botocore.session.Session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
    return boto3.session.Session(botocore_session=core)


def s3_client(source: BucketSource, *, check: bool = True):
    """An S3 client for the source (one per endpoint and credentials in this process; boto3
    clients are thread-safe). `check` resolves the endpoint again and refuses it when it
    now points somewhere forbidden."""
    if check and (reason := endpoint_refusal(source.endpoint_url)):
        raise BucketUnreadable(f"The endpoint is refused: {reason}.")
    key = (source.endpoint_url, source.region, source.access_key_id, source.secret_access_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            signed = bool(source.access_key_id and source.secret_access_key)
            config = Config(
                connect_timeout=10,
                read_timeout=60,
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=16,
                signature_version=None if signed else UNSIGNED,
                s3={"addressing_style": "path" if source.endpoint_url else "auto"},
            )
            client = _session().client(
                "s3",
                endpoint_url=source.endpoint_url or None,
                region_name=source.region or "us-east-1",
                aws_access_key_id=source.access_key_id if signed else None,
                aws_secret_access_key=source.secret_access_key if signed else None,
                config=config,
            )
            _clients[key] = client
    return client


def object_read(source: BucketSource, key: str, *, max_bytes: int) -> bytes:
    """The whole object, refused past `max_bytes`."""
    try:
        answer = s3_client(source).get_object(Bucket=source.bucket, Key=key)
        if answer.get("ContentLength", 0) > max_bytes:
            raise BucketUnreadable(f"{key} is over the {max_bytes:,} bytes allowed.")
        return answer["Body"].read()
    except (BotoCoreError, ClientError) as error:
        raise BucketUnreadable(f"Cannot read {key}: {error}") from error


class _Body:
    """A streaming object body as a file (what FileResponse and copyfileobj read)."""

    def __init__(self, body) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def close(self) -> None:
        self._body.close()


@contextmanager
def asset_open(asset: Asset) -> Iterator[BinaryIO]:
    """The asset's media, streamed: its stored file, or its object in its bucket."""
    if asset.source_id is None:
        with asset.file.open("rb") as handle:
            yield handle
        return
    handle = asset_object_stream(asset)
    try:
        yield handle
    finally:
        handle.close()


def asset_object_stream(asset: Asset) -> _Body:
    """A registered asset's object, streamed (the caller closes it)."""
    try:
        answer = s3_client(asset.source).get_object(
            Bucket=asset.source.bucket, Key=asset.object_key
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise FileNotFoundError(asset.object_key) from error
        raise BucketUnreadable(f"Cannot read {asset.object_key}: {error}") from error
    except BotoCoreError as error:
        raise BucketUnreadable(f"Cannot read {asset.object_key}: {error}") from error
    return _Body(answer["Body"])
