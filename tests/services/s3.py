"""An S3 endpoint per test session: moto's standalone server on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config

from tests.services import free_port, port_open, stop, unavailable, wait_until


@dataclass(frozen=True)
class S3Service:
    endpoint_url: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str

    def settings(self) -> dict[str, str]:
        """The Settings fields that point the object store at this endpoint."""
        return {
            "s3_endpoint_url": self.endpoint_url,
            "s3_bucket": self.bucket,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
            "s3_region": self.region,
        }

    def client(self):  # boto3 clients have no importable type
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Service]:
    """A running moto server with one empty bucket; stopped after the session."""
    binary = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(binary):
        unavailable(f"moto_server not found next to {sys.executable} (pip install 'moto[server]')")
    port = free_port()
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: port_open(port), 30, "moto_server", process)
        service = S3Service(f"http://127.0.0.1:{port}", "reels-test", "test-key", "test-secret", "us-east-1")
        client = service.client()
        client.create_bucket(Bucket=service.bucket)
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server
        stop(process)
        unavailable(f"moto_server could not start: {exc}")
    try:
        yield service
    finally:
        stop(process)
