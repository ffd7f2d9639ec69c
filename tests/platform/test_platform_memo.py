"""FeatureMemo: content-keyed, computes only missing rows in one batch, LRU, compute-only."""

from __future__ import annotations

import numpy as np
import pytest
from platform_fakes import CornerModel, corner_images

from pixelpush.errors import ImageDecodeError
from pixelpush.vision.memo import FeatureMemo, content_key


def test_only_missing_rows_are_computed_in_one_batch() -> None:
    model = CornerModel()
    memo = FeatureMemo(model, capacity=16)
    imgs = corner_images(6, 0, levels=32)
    first = memo(imgs[:4])
    assert model.calls == [4]
    again = memo(np.concatenate([imgs[2:6], imgs[2:3]]))  # 2,3 known; 4,5 new; 2 repeated
    assert model.calls == [4, 2]
    np.testing.assert_array_equal(again[:2].numpy(), first[2:4].numpy())
    np.testing.assert_array_equal(again.numpy(), imgs[[2, 3, 4, 5, 2], 0, 0, :].astype(np.float32))
    assert (memo.hits, memo.misses) == (3, 6)
    assert not again.is_inference()


def test_lru_evicts_the_oldest() -> None:
    model = CornerModel()
    memo = FeatureMemo(model, capacity=2)
    imgs = corner_images(3, 1, levels=32)
    memo(imgs[:2])
    memo(imgs[:1])  # touch 0: 1 is now the oldest
    memo(imgs[2:3])  # evicts 1
    assert len(memo) == 2
    model.calls.clear()
    memo(imgs[[0, 2]])
    assert model.calls == []
    memo(imgs[1:2])
    assert model.calls == [1]


def test_reader_computes_shares_and_cannot_write() -> None:
    model = CornerModel()
    memo = FeatureMemo(model, capacity=8)
    read = memo.reader()
    imgs = corner_images(3, 2, levels=32)
    out = read(imgs)
    assert model.calls == [3] and out.dtype == np.float32
    out[:] = 1e6  # the caller's copy: the memo's rows are unchanged
    np.testing.assert_array_equal(memo(imgs).numpy(), imgs[:, 0, 0, :].astype(np.float32))
    assert model.calls == [3]  # served from the rows the reader computed
    assert not hasattr(memo, "put") and not [a for a in vars(read) if not a.startswith("__")]


def test_keys_include_the_shape_and_inputs_are_checked() -> None:
    a = np.zeros((2, 6, 3), np.uint8)
    assert content_key(a) != content_key(a.reshape(6, 2, 3))
    memo = FeatureMemo(CornerModel())
    with pytest.raises(ImageDecodeError):
        memo(np.zeros((2, 32, 32, 3), np.float32))
