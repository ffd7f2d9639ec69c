"""The one compatibility step for importing torchvision here.

torchvision 0.28.0's wheel ships compiled detection ops (nms, roi_align, ...) that cannot load
against the CPU build of torch 2.13.0; its import then fails with
``operator torchvision::nms does not exist`` because ``_meta_registrations`` registers fake
kernels for ``nms`` and ``qnms`` unconditionally. pixelpush only uses torchvision's
classification architectures, which need none of those ops. When (and only when) the compiled
ops are missing, we declare the two schemas so that the registration succeeds; calling them
would still fail loudly. Import torchvision through :func:`import_torchvision`.
"""

from __future__ import annotations

import importlib.util
import logging
import types
from pathlib import Path

import torch

_log = logging.getLogger(__name__)
_fragment: torch.library.Library | None = None


def _ops_present() -> bool:
    try:
        torch.ops.torchvision.nms  # noqa: B018 - attribute lookup is the probe
    except (AttributeError, RuntimeError):
        return False
    return True


def _load_compiled_ops() -> bool:
    """Load torchvision's own ``_C`` library without importing the package, as it would."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    for folder in spec.submodule_search_locations:
        for lib in sorted(Path(folder).glob("_C*.so")) + sorted(Path(folder).glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(lib))
            except (OSError, RuntimeError):
                return False
            return _ops_present()
    return False


def import_torchvision() -> types.ModuleType:
    """Import and return torchvision, declaring the missing op schemas first if needed."""
    global _fragment
    if _fragment is None and not _ops_present() and not _load_compiled_ops():
        _log.debug("torchvision compiled ops unavailable; declaring nms/qnms schemas only")
        _fragment = torch.library.Library("torchvision", "FRAGMENT")
        _fragment.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _fragment.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision

    return torchvision
