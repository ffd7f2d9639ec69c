"""Torch's thread count is set for a block and restored, also when the block raises."""

from __future__ import annotations

import pytest
import torch

from pixelpush.threads import torch_threads


def test_restored_after_an_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
