"""Fixtures for the S3-compatible adapters: a moto server on loopback and fresh buckets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.storage.s3server import MotoServer, moto_server

WRITER_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
READER_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    ],
}


@dataclass(frozen=True)
class AccessKey:
    key_id: str
    secret: str


@dataclass(frozen=True)
class AuthServer:
    """A moto server that checks signatures and IAM policies, with one bucket and two users."""

    server: MotoServer
    bucket: str
    writer: AccessKey
    reader: AccessKey


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's S3 without authentication: any key is accepted."""
    with moto_server() as server:
        yield server


@pytest.fixture
def s3_bucket(moto: MotoServer) -> str:
    return moto.create_bucket()


def _user(server: MotoServer, name: str, policy: dict[str, Any]) -> AccessKey:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="storage", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return AccessKey(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="session")
def moto_auth() -> Iterator[AuthServer]:
    """Users and bucket are made while moto still accepts anything; then auth is switched on."""
    with moto_server() as server:
        bucket = server.create_bucket()
        writer = _user(server, "dg-writer", WRITER_POLICY)
        reader = _user(server, "dg-reader", READER_POLICY)
        server.require_auth()
        yield AuthServer(server, bucket, writer, reader)
