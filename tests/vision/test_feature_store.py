"""The feature cache's building blocks: atomic files, checked .npy reads, chunks and manifests."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from pixelpush.vision.feature_store import FeatureStore, atomic_file, open_npy_checked, write_npy_atomic


def test_atomic_file_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]  # temporary removed
    with atomic_file(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_write_npy_atomic_streams_blocks_into_a_loadable_array(tmp_path: Path) -> None:
    blocks = [np.arange(i * 6, i * 6 + 6, dtype=np.float64).reshape(2, 3) for i in range(4)]
    path = tmp_path / "x.npy"
    write_npy_atomic(path, iter(blocks), (8, 3), "float32")
    loaded = np.load(path)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, np.concatenate(blocks).astype(np.float32))
    mm = open_npy_checked(path, shape=(8, 3), dtype="float32")
    assert isinstance(mm, np.memmap) and not mm.flags.writeable
    np.testing.assert_array_equal(mm, loaded)


def test_write_npy_atomic_refuses_a_wrong_row_count_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    with pytest.raises(ValueError, match="rows"):
        write_npy_atomic(path, [np.zeros((2, 3))], (3, 3), "float32")
    with pytest.raises(ValueError, match="does not fit"):
        write_npy_atomic(path, [np.zeros((2, 4))], (2, 3), "float32")
    assert list(tmp_path.iterdir()) == []


def test_open_npy_checked_accepts_numpy_saved_files(tmp_path: Path) -> None:
    path = tmp_path / "s.npy"
    np.save(path, np.ones((5, 2), np.float16))
    mm = open_npy_checked(path, shape=(5, 2), dtype="float16")
    assert mm is not None and mm.dtype == np.float16 and float(mm.sum()) == 10.0
    assert open_npy_checked(tmp_path / "missing.npy") is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncate", "truncated"),
        ("pad", "truncated or padded"),
        ("garbage", "unreadable"),
        ("empty", "unreadable"),
        ("dtype", "dtype"),
        ("shape", "shape"),
        ("fortran", "Fortran"),
    ],
)
def test_open_npy_checked_rejects_and_deletes_damaged_files(
    tmp_path: Path, damage: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "d.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(4, 3))
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:-1])
    elif damage == "pad":
        path.write_bytes(data + b"\0" * 4)
    elif damage == "garbage":
        path.write_bytes(b"\x93NUMPY garbage")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "dtype":
        np.save(path, np.zeros((4, 3), np.float64))
    elif damage == "shape":
        np.save(path, np.zeros((3, 4), np.float32))
    else:
        np.save(path, np.asfortranarray(np.zeros((4, 3), np.float32)))
    with caplog.at_level(logging.WARNING):
        assert open_npy_checked(path, shape=(4, 3), dtype="float32") is None
    assert reason in caplog.text
    assert not path.exists()


def test_store_layout_chunks_and_manifest(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path, "squeezenet1_1@112:imagenet/with odd chars", "float16")
    store.prepare()
    assert store.root.is_relative_to(tmp_path) and store.root.name == "float16"
    assert "/" not in store.root.parent.name and " " not in store.root.parent.name
    assert FeatureStore(tmp_path, "other", "float16").root != store.root

    feats = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    assert not store.has_chunk("c0", 4, 3)
    store.write_chunk("c0", feats.astype(np.float16))
    assert store.has_chunk("c0", 4, 3) and not store.has_chunk("c0", 5, 3)
    # the wrong-shape probe above deleted the file, as for any damaged chunk
    store.write_chunk("c0", feats.astype(np.float16))
    np.testing.assert_array_equal(store.read_chunk("c0", 4, 3), feats.astype(np.float16))

    store.write_assembled("cat", iter([feats[:2], feats[2:]]), 4, 3, ["c0"], 4)
    mm = store.open_assembled("cat", 4, 3)
    assert mm is not None and mm.dtype == np.float16
    manifest = store.read_manifest("cat")
    assert manifest is not None and manifest["chunks"] == ["c0"] and manifest["content_hash"] == "cat"
    assert store.open_assembled("cat", 5, 3) is None  # a manifest for another n does not match


def test_non_finite_chunk_is_discarded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FeatureStore(tmp_path, "m", "float32")
    store.prepare()
    bad = np.ones((2, 2), np.float32)
    bad[1, 1] = np.nan
    store.write_chunk("c", bad)
    with caplog.at_level(logging.WARNING):
        assert store.read_chunk("c", 2, 2) is None
    assert "non-finite" in caplog.text and not store.chunk_path("c").exists()


def test_damaged_manifest_is_ignored(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path, "m", "float32")
    store.prepare()
    store.write_assembled("cat", iter([np.zeros((2, 2))]), 2, 2, ["c"], 2)
    store.manifest_path("cat").write_text('{"format": 1, "n": ')
    assert store.open_assembled("cat", 2, 2) is None


def test_prepare_keeps_temporaries_of_live_processes(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path, "m", "float32")
    store.chunk_dir.mkdir(parents=True)
    live = store.chunk_dir / f".x.npy.pid{os.getpid()}.0123abcd.tmp"
    dead = store.root / ".y.npy.pid999999999.0123abcd.tmp"
    live.write_bytes(b"in progress")
    dead.write_bytes(b"abandoned")
    store.prepare()
    assert live.exists() and not dead.exists()
