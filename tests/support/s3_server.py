"""A real S3-protocol server for the tests: moto's standalone server, started as a subprocess on loopback.

The code under test only ever gets the endpoint URL and credentials (through Settings); these helpers use
their own boto3 client to make buckets and put objects, as an operator's tools would. No pytest here, so
bench/ can start one too.

    with MotoServer() as server:
        bucket = server.create_bucket()
        server.put(bucket, "a/b.jpg", data)
        settings = settings.with_overrides(**server.settings_overrides())
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import boto3
from botocore.config import Config

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key-never-print"
REGION = "us-east-1"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class MotoServer:
    """`python -m moto.server` on a free loopback port; `enforce_auth=True` makes it check credentials
    (moto then knows no access key at all, so every request is refused as an unknown key)."""

    def __init__(self, enforce_auth: bool = False, start_timeout: float = 60.0):
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.enforce_auth = enforce_auth
        self.start_timeout = start_timeout
        self._process: subprocess.Popen | None = None
        self._client = None

    def start(self) -> MotoServer:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        if self.enforce_auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        self._process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not listen on port {self.port} within {self.start_timeout}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def settings_overrides(self) -> dict:
        """The Settings fields that point the code under test at this server."""
        return {"s3_endpoint_url": self.endpoint_url, "s3_region": REGION, "s3_access_key_id": ACCESS_KEY,
                "s3_secret_access_key": SECRET_KEY, "s3_addressing_style": "path"}

    @property
    def client(self):
        if self._client is None:
            self._client = boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY, config=Config(s3={"addressing_style": "path"}))
        return self._client

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> str:
        """Put an object; returns its location string (s3://bucket/key)."""
        self.client.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"
