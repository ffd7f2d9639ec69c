"""Convert the Keras SqueezeNet v1.1 ImageNet weights (no top) into a torch state dict.

One-off builder for ``src/pixelpush/assets/weights/squeezenet1_1_imagenet.pt``. It reads the
HDF5 file shipped in ``../shared/weights`` (needs h5py: ``pip install -e .[scripts]``) and writes
the state dict of torchvision's ``squeezenet1_1().features`` (keys ``features.<i>.<...>``),
atomically, with the licence copied next to it.

Correspondence with keras-squeezenet (rcmalli), checked against its model definition:

* layer names: ``conv1`` -> ``features.0``; ``fire2``..``fire9`` -> ``features.3, 4, 6, 7, 9,
  10, 11, 12`` with ``squeeze1x1`` -> ``squeeze``, ``expand1x1`` -> ``expand1x1`` and
  ``expand3x3`` -> ``expand3x3``;
* kernels: Keras ``(kh, kw, in, out)`` (TensorFlow ordering, cross-correlation like torch)
  -> torch ``(out, in, kh, kw)``; biases unchanged;
* fire concat: Keras concatenates ``[expand1x1, expand3x3]`` along channels, as torchvision's
  ``Fire`` does, so the 512-d output channels line up one to one;
* padding: ``conv1`` and the 1x1 convs are ``valid`` (no padding), ``expand3x3`` is ``same``
  (= padding 1 for a 3x3 stride-1 kernel): identical to torchvision;
* pools: Keras uses ``valid`` 3x3/2 max pools (floor), torchvision ``ceil_mode=True``. They give
  the same output whenever the pool's input side is odd, which holds for every input size
  S with (S - 3) // 2 + 1, its pool output, ... all odd -- e.g. 64, 112, 224 -- but not for
  e.g. S = 100. :class:`pixelpush.vision.squeezenet.SqueezeNetModel` therefore sets
  ``ceil_mode=False`` to follow the weights' own architecture at every size. The weights
  themselves are unaffected (pools have none).

Usage::

    python scripts/convert_squeezenet_weights.py [--src ../shared/weights/...h5] [--out ...pt]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
from pathlib import Path

import numpy as np
import torch

from pixelpush.files import write_atomic  # unique temp name, fsync, mode 0666 & ~umask

_log = logging.getLogger("convert_squeezenet_weights")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "weights" / "squeezenet_v1.1_imagenet_notop_keras.h5"
DEFAULT_OUT = REPO / "src" / "pixelpush" / "assets" / "weights" / "squeezenet1_1_imagenet.pt"
LICENSE_NAME = "LICENSE.keras-squeezenet"

#: Keras fire module -> index in torchvision's ``squeezenet1_1().features``.
FIRE_INDEX = {2: 3, 3: 4, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12}
#: Keras sub-layer -> torchvision ``Fire`` attribute.
FIRE_PARTS = {"squeeze1x1": "squeeze", "expand1x1": "expand1x1", "expand3x3": "expand3x3"}


def _kernel_and_bias(group: object, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """The (kernel, bias) arrays of a Keras conv layer group, whatever their dataset names."""
    arrays = {}

    def visit(name: str, obj: object) -> None:
        shape = getattr(obj, "shape", None)
        if shape is not None:
            arrays[name] = np.asarray(obj, dtype=np.float32)

    group.visititems(visit)  # type: ignore[attr-defined]
    kernels = [a for a in arrays.values() if a.ndim == 4]
    biases = [a for a in arrays.values() if a.ndim == 1]
    if len(kernels) != 1 or len(biases) != 1:
        raise ValueError(f"layer {layer!r}: expected one 4-d kernel and one bias, found {sorted(arrays)}")
    return kernels[0], biases[0]


def keras_to_state_dict(h5_path: Path) -> dict[str, torch.Tensor]:
    """Read the Keras HDF5 weights and return torchvision-keyed ``features.*`` tensors."""
    import h5py  # only this script needs it

    mapping = {"conv1": "features.0"}
    for fire, index in FIRE_INDEX.items():
        for keras_part, torch_part in FIRE_PARTS.items():
            mapping[f"fire{fire}/{keras_part}"] = f"features.{index}.{torch_part}"

    state: dict[str, torch.Tensor] = {}
    with h5py.File(h5_path, "r") as f:
        for keras_name, prefix in mapping.items():
            if keras_name not in f:
                raise ValueError(f"{h5_path}: layer {keras_name!r} missing")
            kernel, bias = _kernel_and_bias(f[keras_name], keras_name)
            state[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            state[f"{prefix}.bias"] = torch.from_numpy(bias.copy())
    return state


def check_against_torchvision(state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` into torchvision's squeezenet1_1 features, strictly (shapes and keys)."""
    from pixelpush.vision.torchvision_compat import import_torchvision

    tv = import_torchvision()
    with torch.random.fork_rng(devices=[]):
        net = tv.models.squeezenet1_1(weights=None)
    features_keys = {k for k in net.state_dict() if k.startswith("features.")}
    if features_keys != set(state):
        raise ValueError(f"key mismatch: {sorted(features_keys ^ set(state))}")
    net.features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()}, strict=True)


def _serialise(state: dict[str, torch.Tensor]) -> bytes:
    """``torch.save`` into memory: the archive's inner name then does not depend on a file name,
    so the same weights always give the same bytes (and the same ``weights_id``)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def convert(src: Path, out: Path) -> str:
    """Convert ``src`` to ``out`` (atomically), copy the licence; return the file's sha256."""
    state = keras_to_state_dict(src)
    check_against_torchvision(state)
    write_atomic(out, _serialise(state))
    licence = src.parent / LICENSE_NAME
    if licence.exists():
        write_atomic(out.parent / LICENSE_NAME, licence.read_bytes())
    else:
        _log.warning("licence %s not found: copy it next to %s by hand", licence, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    n_params = sum(t.numel() for t in state.values())
    _log.info("wrote %s: %d tensors, %d parameters, sha256 %s", out, len(state), n_params, digest)
    return digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="Keras HDF5 weights file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="torch state dict to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    convert(args.src, args.out)


if __name__ == "__main__":
    main()
