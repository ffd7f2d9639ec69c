"""Where tensors live: ``cpu`` (the default) or a CUDA GPU, chosen by one setting.

:func:`resolve_device` turns a device name from a config or the command line into a
:class:`torch.device`, refusing with a clear :class:`~pixelpush.errors.ConfigError` a GPU that
this torch build or machine does not have. On a GPU it makes the numbers reproducible run to
run: cuDNN picks deterministic kernels (no autotuning) and TF32 is off, so float32 stays float32
(features then agree with the CPU's within float32 rounding; tests/vision/test_gpu_parity.py
runs where a GPU is present).
"""

from __future__ import annotations

import copy
import pickle
import re

import torch

from pixelpush.errors import ConfigError

__all__ = ["DEVICE_PATTERN", "check_device_name", "cpu_pickle", "is_cpu", "resolve_device"]

DEVICE_PATTERN = r"^(cpu|cuda(:[0-9]+)?)$"
"""Accepted device names: ``cpu``, ``cuda`` (the current GPU) or ``cuda:N``."""


def check_device_name(name: object) -> str:
    """`name` if it is a device name pixelpush accepts, else ConfigError (nothing is checked on the machine).

    >>> check_device_name("cuda:0")
    'cuda:0'
    """
    if not isinstance(name, str) or not re.match(DEVICE_PATTERN, name):
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    return name


def is_cpu(name: str | torch.device) -> bool:
    """Whether a device name (or device) is the CPU.

    >>> is_cpu("cpu"), is_cpu("cuda:1")
    (True, False)
    """
    return torch.device(name).type == "cpu"


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device `name` names, checked available; a GPU is set up for reproducible numbers.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    device = torch.device(check_device_name(str(name) if isinstance(name, torch.device) else name))
    if device.type == "cpu":
        return device
    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a build without CUDA")
        raise ConfigError(f"device {name!r} was asked for but no CUDA GPU is available to this process ({build}); use --device cpu")
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s) (0..{torch.cuda.device_count() - 1})")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device("cuda", index)


def cpu_pickle(module: torch.nn.Module) -> bytes:
    """`module` pickled with its tensors on the CPU (a copy is moved if any live elsewhere).

    What a worker unpickles then loads anywhere, and moves to its own device.
    """
    on_cpu = all(t.device.type == "cpu" for t in [*module.parameters(), *module.buffers()])
    return pickle.dumps(module if on_cpu else copy.deepcopy(module).to("cpu"))
