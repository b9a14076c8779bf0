"""A local S3-compatible server (moto) on loopback, with authentication on.

The server runs in its own process (moto's auth switch is process-wide), on a
free port of 127.0.0.1. An IAM user with full S3 access is created while the
server still accepts anything, then authentication is switched on: from then
every request must be signed with that user's keys, so a component that did not
receive the credentials fails instead of passing unnoticed.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

REGION = "us-east-1"
#: Buckets the tests use: sources, a warehouse, and one left for tests to break.
BUCKETS = ("sources", "warehouse", "scratch")
#: Variables that could point the tests' clients elsewhere than the test server.
FOREIGN_VARIABLES = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "CODECORPUS_S3_REGION", "CODECORPUS_WAREHOUSE", "CODECORPUS_CATALOG_URI",
)  # fmt: skip


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """What a codecorpus process needs to use this server."""
        return {
            "CODECORPUS_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",  # never wait for an instance metadata service
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
        )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(endpoint: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {endpoint} within {seconds} s")


def _enable_auth(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=5).close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    endpoint = f"http://127.0.0.1:{_free_port()}"
    port = endpoint.rsplit(":", 1)[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until_up(endpoint, process)
        admin = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "bootstrap",
            "aws_secret_access_key": "bootstrap",
        }
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="codecorpus")
        iam.put_user_policy(
            UserName="codecorpus", PolicyName="s3", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }),
        )  # fmt: skip
        key = iam.create_access_key(UserName="codecorpus")["AccessKey"]
        s3 = boto3.client("s3", **admin)
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)
        _enable_auth(endpoint)
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """This process's environment pointed at the test server (and nowhere else)."""
    for name in FOREIGN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
