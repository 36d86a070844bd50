"""The blob store's flush (rnmail.util.blobs.BlobStore.start_sync / sync): the ingest starts
it before writing a batch's rows and waits for it before the commit. Whatever was put before
``sync`` returns is on disk before a flush that ended by then, and a write that failed
fails ``sync`` (so the batch is not committed), however the two calls were interleaved."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rnmail.util import blobs
from rnmail.util.blobs import BlobStore, sha256_hex


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, set[str]]]:
    """Each flush of the file system: the thread it ran in and the files there were then."""
    seen: list[tuple[str, set[str]]] = []
    real = blobs._sync_filesystem

    def recording(path: Path) -> None:
        files = {p.name for p in path.rglob("*") if p.is_file()}
        seen.append((threading.current_thread().name, files))
        real(path)

    monkeypatch.setattr(blobs, "_sync_filesystem", recording)
    return seen


def test_a_file_put_after_the_flush_started_is_flushed_by_sync(
        tmp_path: Path, flushes: list[tuple[str, set[str]]]) -> None:
    store = BlobStore(tmp_path)
    first = store.put(b"Ma carte d'identit\xc3\xa9 est bloqu\xc3\xa9e.\n")
    store.start_sync()
    second = store.put(b"Mijn identiteitskaart is geblokkeerd.\n")
    store.sync()
    assert flushes, "nothing was flushed"
    last_thread, last_files = flushes[-1]
    assert {first, second} <= last_files
    assert last_thread.startswith("blob-writer")  # off the caller's thread
    assert store.path(first).exists() and store.path(second).exists()


def test_the_flush_runs_while_the_caller_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_disk(path: Path) -> None:
        started.set()
        assert release.wait(10)

    monkeypatch.setattr(blobs, "_sync_filesystem", slow_disk)
    store = BlobStore(tmp_path)
    store.put(b"Meine Karte ist gesperrt.\n")
    store.start_sync()  # returns at once: the disk's work is the writer thread's
    assert started.wait(10)
    waiting = threading.Thread(target=store.sync)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive(), "sync returned before the flush ended"
    release.set()
    waiting.join(10)
    assert not waiting.is_alive()


@pytest.mark.parametrize("when", ["before start_sync", "after start_sync"])
def test_a_failed_write_fails_sync(tmp_path: Path, when: str,
                                   flushes: list[tuple[str, set[str]]]) -> None:
    data = b"Numero de registre national oublie.\n"
    digest = sha256_hex(data)
    (tmp_path / digest[:2]).write_bytes(b"")  # a file where the folder must go: write fails
    store = BlobStore(tmp_path)
    store.put(b"another file, written fine\n")
    if when == "before start_sync":
        store.put(data)
        store.start_sync()
    else:
        store.start_sync()
        store.put(data)
    with pytest.raises(OSError):
        store.sync()
    store.sync()  # the error was raised once; nothing is left waiting
