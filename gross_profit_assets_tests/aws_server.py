"""A real local server that speaks the AWS APIs (moto in server mode), for tests marked ``aws``.

The server runs in a thread of the test process (``ThreadedMotoServer``) on 127.0.0.1 and an
ephemeral port; every AWS call of the code under test goes over HTTP to it, through boto3's own
``AWS_ENDPOINT_URL``. Being in-process lets tests drive states moto never reaches on its own
(crawlers finishing, EMR steps completing) through moto's backends.

Credentials are moto's dummy values, set only for the test session; nothing here is an AWS key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account, not a real one

# Environment of the AWS deployment under test: moto's dummy credentials, the server's
# endpoint, and made-up resource names.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str

    def backend(self, service: str):
        """moto's in-process backend of ``service`` for the test account and region, to drive
        states the real service would reach on its own."""
        from moto.backends import get_backend

        return get_backend(service)[ACCOUNT_ID][REGION]


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in [*DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL"]}
    os.environ.update(DUMMY_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    try:
        yield MotoServer(endpoint)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
