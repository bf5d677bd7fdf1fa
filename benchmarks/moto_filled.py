"""moto's S3 server on loopback, its bucket filled through moto's own backend (in this
process) rather than by HTTP puts, so that 100,000 objects take seconds instead of the 10 to
20 minutes of puts. The objects are the same as puts would make (moto's put_object).

    .venv/bin/python benchmarks/moto_filled.py --port 0 --bucket NAME --prefix p/ --objects 100000

Prints `endpoint=http://127.0.0.1:PORT objects=N fill_s=...` when it serves, then serves
until it is stopped (SIGTERM). Keys are `PREFIX%03d/%06d.jpg`: 1,000 per sub-prefix, as
cameras or batches lay them out.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="bench/")
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--body-file", help="one object's bytes (default: 64 bytes of JPEG head)")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench-access")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")

    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port)
    server.start()
    host, port = server.get_host_and_port()
    backend = s3_backends["123456789012"]["global"]
    backend.create_bucket(args.bucket, "us-east-1")
    body = b"\xff\xd8\xff\xe0" + b"\0" * 60
    if args.body_file:
        with open(args.body_file, "rb") as handle:
            body = handle.read()
    start = time.perf_counter()
    for i in range(args.objects):
        backend.put_object(args.bucket, f"{args.prefix}{i // 1000:03d}/{i:06d}.jpg", body)
    print(
        f"endpoint=http://{host}:{port} objects={args.objects} "
        f"fill_s={time.perf_counter() - start:.1f}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
