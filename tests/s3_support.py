"""A real S3 API on 127.0.0.1 for the object-store ledger tests: moto's server mode (HTTP, the S3
wire protocol; not a mock of a client). s3fs reaches it through the standard environment
(`AWS_ENDPOINT_URL` + dummy credentials), which subprocesses inherit."""

import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

BUCKET = "asva-test"


@contextmanager
def loopback_s3() -> Iterator[str]:
    """Start the server with bucket `BUCKET`, point the environment at it; yields the endpoint URL.
    Stops the server and restores the environment on exit."""
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the test output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance made for another endpoint would be reused
    # moto keeps its stores per process, not per server: start from an empty one.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        s3fs.S3FileSystem().mkdir(BUCKET)
        yield endpoint
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def s3_keys(url: str) -> list[str]:
    """Names of all objects under `url` (s3://bucket/prefix), listed afresh."""
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    prefix = url.removeprefix("s3://")
    return sorted(key.removeprefix(prefix + "/") for key in fs.find(prefix))
