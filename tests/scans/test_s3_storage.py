"""Scans stored in S3-compatible object storage: moto's real S3 server on loopback."""

from __future__ import annotations

import io

import boto3
import pytest
from django.urls import reverse
from factories import upload_file
from moto.server import ThreadedMotoServer
from PIL import Image
from support.stack import free_port

from scans.models import Scan

pytestmark = pytest.mark.django_db

BUCKET = "kidneyweb-scans"


@pytest.fixture
def bucket(settings, monkeypatch):
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in [
        ("AWS_ACCESS_KEY_ID", "test-key"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]:
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "default_acl": "private",
                "file_overwrite": False,
            },
        },
    }
    yield client
    server.stop()


def pixels(png: bytes) -> bytes:
    return Image.open(io.BytesIO(png)).tobytes()


def keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_scan_is_stored_read_served_and_deleted_in_the_bucket(
    client, alice, bucket, png_bytes, media_root, eager_tasks, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("upload"), {"files": [upload_file("Doe.png", png_bytes)]})

    scan = Scan.objects.get()
    assert scan.status == Scan.Status.DONE  # the worker read the image back from S3
    stored = keys(bucket)
    assert stored == sorted([scan.image.name, scan.thumbnail.name])
    assert all("Doe" not in key for key in stored)
    kept = bucket.get_object(Bucket=BUCKET, Key=scan.image.name)["Body"].read()
    assert pixels(kept) == pixels(png_bytes)  # the upload's pixels, re-encoded
    assert not media_root.exists()  # nothing went to local disk

    image = client.get(reverse("scan_image", args=[scan.pk]))
    assert b"".join(image.streaming_content) == kept

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("scan_delete", args=[scan.pk]))
    assert keys(bucket) == []
