"""Listing a bucket prefix fast: in key ranges, side by side, with standard calls only.

S3 answers one listing request with at most 1,000 keys, and a listing is a chain of requests
(each needs the previous one's continuation token), so one chain lists at the speed of one
round trip per 1,000 keys. Ranges of keys can be listed side by side: the prefix is listed
once with a delimiter ("/") to find its sub-prefixes, which cut the key space into ranges
(StartAfter = a sub-prefix, up to the next range's first sub-prefix, inclusive); a bounded
pool lists the ranges, each a chain of ordinary ListObjectsV2 pages of up to 1,000 keys. Every
key falls in exactly one range, so nothing is listed twice or missed, whatever the keys are
(objects beside the sub-prefixes, folder markers, names that sort between them).

The first page is listed alone (a prefix of one page costs one request); the ranges start
after its last key. The cost on AWS S3: one request per 1,000 sub-prefixes to find the cuts
and one more page per range, against N / 1,000 requests in any case. A prefix without
sub-prefixes (a flat prefix) is one chain; a prefix whose only child is one sub-prefix is
looked into, a few levels deep, before cutting.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

DELIMITER = "/"
# Looked into when a level holds only one sub-prefix (bucket/2024/cam1/...): levels at most.
DESCEND_LEVELS = 4
# Cuts are found from at most this many sub-prefixes (one request per 1,000); past them the
# last range runs to the end of the prefix.
MAX_CUT_PREFIXES = 10_000
RANGES_PER_WORKER = 1  # more ranges balance better, but each costs one partial page more


def _sub_prefixes(client, bucket: str, prefix: str, page_size: int) -> list[str]:
    """The sub-prefixes of `prefix` (common prefixes under the delimiter), looking into a
    lone sub-prefix with nothing beside it; [] for a flat prefix."""
    for _level in range(DESCEND_LEVELS):
        found: list[str] = []
        objects = False
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=bucket,
            Prefix=prefix,
            Delimiter=DELIMITER,
            PaginationConfig={"PageSize": page_size},
        ):
            found.extend(entry["Prefix"] for entry in page.get("CommonPrefixes", []))
            objects = objects or bool(page.get("Contents"))
            if len(found) >= MAX_CUT_PREFIXES:
                break
        if len(found) == 1 and not objects:
            prefix = found[0]
            continue
        return found
    return found


def key_ranges(
    cuts: list[str], count: int, start: str | None = None
) -> list[tuple[str | None, str | None]]:
    """At most `count` ranges (after, up_to] that cover every key after `start`: the first
    starts there (None: at the beginning), the last runs to the end (None); the cuts between
    them are sub-prefixes after `start`, taken evenly."""
    cuts = [cut for cut in cuts if start is None or cut > start]
    if not cuts or count <= 1:
        return [(start, None)]
    step = max(1, len(cuts) / count)
    chosen = sorted({cuts[int(i * step)] for i in range(count) if int(i * step) < len(cuts)})
    edges: list[str | None] = [start, *chosen, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _range_pages(
    client,
    bucket: str,
    prefix: str,
    after: str | None,
    up_to: str | None,
    page_size: int,
    stop: threading.Event,
) -> Iterator[list[dict]]:
    """The keys k with after < k <= up_to under the prefix, a listing page at a time."""
    arguments = {"Bucket": bucket, "Prefix": prefix}
    if after is not None:
        arguments["StartAfter"] = after
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(**arguments, PaginationConfig={"PageSize": page_size}):
        if stop.is_set():
            return
        contents = page.get("Contents", [])
        if up_to is not None and contents and contents[-1]["Key"] > up_to:
            yield [item for item in contents if item["Key"] <= up_to]
            return
        yield contents


def list_in_ranges(
    client,
    *,
    bucket: str,
    prefix: str,
    page_size: int,
    workers: int,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Put every listing page of the prefix (a list of S3's object entries) into `out`, in
    no particular order, then None; or the first error instead of None. `stop` ends the
    listing early (the reader gave up). Run it in a thread of its own."""
    try:
        # The first page alone: a prefix of one page costs one request, as a plain listing.
        first = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=page_size)
        contents = first.get("Contents", [])
        out.put(contents)
        if not first.get("IsTruncated") or not contents:
            out.put(None)
            return
        cuts = _sub_prefixes(client, bucket, prefix, page_size) if workers > 1 else []
        ranges = key_ranges(cuts, workers * RANGES_PER_WORKER, start=contents[-1]["Key"])

        def one(bounds: tuple[str | None, str | None]) -> None:
            try:
                for page in _range_pages(client, bucket, prefix, *bounds, page_size, stop):
                    out.put(page)
            except Exception:
                stop.set()  # the other ranges end at their next page
                raise

        with ThreadPoolExecutor(max(1, min(workers, len(ranges)))) as pool:
            futures = [pool.submit(one, bounds) for bounds in ranges]
            for future in futures:
                if stop.is_set():
                    future.cancel()
                else:
                    future.result()  # the first error is raised here
        for future in futures:
            if not future.cancelled() and future.exception() is not None:
                raise future.exception()
        if stop.is_set():
            return
        out.put(None)
    except Exception as error:  # handed to the reader, which says why it failed
        stop.set()
        out.put(error)
