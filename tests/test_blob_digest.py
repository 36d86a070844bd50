"""The blob store's sha256 (rnmail.util.blobs.sha256_hex): hashed in pieces or at once, the
digest is the file's name and must be the plain sha256 of the content."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rnmail.util.blobs import BlobStore, sha256_hex


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4094, 4095, 10_000,
                                  256 * 1024 - 1, 256 * 1024, 300_000])
def test_digest_is_the_plain_sha256(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_stored_under_the_sha256_of_its_content(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"Bonjour, ma cl\xc3\xa9 est bloqu\xc3\xa9e.\n" * 200
    digest = store.put(data)
    store.sync()
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path(digest).read_bytes() == data
