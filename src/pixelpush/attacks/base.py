"""The attack interface: configuration in ``__init__``, per-call data in :meth:`Attack.run`.

An attack pushes one item by uploading a sequence of perturbed images through the client of
its :class:`~pixelpush.attacks.view.AttackerView`, the only thing it holds. Before each step
the *targeting* (built by a threat model, :mod:`pixelpush.attacks.threat_models`) names the
attacker's registered user to attack.
After each step the attack yields a :class:`StepRecord` with everything the campaign runner
needs (the uploaded image, uploads and queries used, the estimated gradients for the cosine
diagnostics, whether the step carried information). Two ways to drive an attack::

    result = attack.run(ctx, callback)          # callback(record) after every step
    for record in attack.iterate(ctx): ...      # a step generator

Following foolbox, :class:`GradientSignAttack` implements the step
``p ← clip(p + ε·sign(g), 0, 255)`` once; white-box and black-box attacks differ only in the
hook :meth:`GradientSignAttack.gradient` that supplies ``g``.
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from pixelpush.errors import AttackError, BudgetExceededError, ConfigError
from pixelpush.attacks.distortion import DistortionBound
from pixelpush.attacks.view import AttackerView
from pixelpush.platform.api import Access, PlatformClient
from pixelpush.vision.image_model import ImageModel

__all__ = [
    "Attack",
    "AttackContext",
    "AttackResult",
    "GradientEstimate",
    "GradientSignAttack",
    "StepCallback",
    "StepRecord",
    "Targeting",
    "WhiteBoxGradients",
    "sign_step",
]

_log = logging.getLogger(__name__)


@runtime_checkable
class Targeting(Protocol):
    """Which of the attacker's registered users to attack before each step.

    Built by a threat model (:mod:`pixelpush.attacks.threat_models`). It holds only the
    attacker's own users; whom the campaign evaluates on stays with the experimenter.
    """

    def active_user(self, view: AttackerView, item: int) -> int:
        """The registered user to attack in the next step (may query the platform: counted)."""


@runtime_checkable
class WhiteBoxGradients(Protocol):
    """The white-box handle: read access to the model (the WB attack and diagnostics only)."""

    def score_image(self, user: int, item: int, image: torch.Tensor) -> torch.Tensor:
        """Differentiable score of `item` for `user` if its image were `image` ``(H, W, 3)``."""


@dataclass
class AttackContext:
    """Per-call data of one attack: the attacker's view, the pushed item, its upload, the targeting.

    A black-box attack reads `view` (client, its own image model copy, its own users, seed),
    `item`, `image` and `targeting`; `white_box` is for the white-box attack only and
    `popular_image` (public data) for the baselines.
    """

    view: AttackerView
    """Everything the attacker holds (see :mod:`pixelpush.attacks.view`)."""
    item: int
    """The pushed item."""
    image: np.ndarray
    """The item's current upload on the platform, ``(H, W, 3)`` uint8 (the attack's start)."""
    targeting: Targeting
    """Built by a threat model: names the attacker's user to attack before each step."""
    white_box: WhiteBoxGradients | None = None
    """White-box handle (the white-box attack only)."""
    popular_image: np.ndarray | None = None
    """The most popular same-category item's upload (the baselines only)."""

    def __post_init__(self) -> None:
        img = np.asarray(self.image)
        if img.ndim != 3 or img.shape[-1] != 3 or img.dtype != np.uint8:
            raise ConfigError(f"the upload must be (H, W, 3) uint8, got {img.dtype} {img.shape}")
        self.image = img

    @property
    def client(self) -> PlatformClient:
        """The attacker's platform handle (``view.client``)."""
        return self.view.client

    @property
    def image_model(self) -> ImageModel:
        """The attacker's own copy of the public image model (``view.image_model``)."""
        return self.view.image_model

    @property
    def seed(self) -> int:
        """Seed of the attack's own randomness (``view.seed``)."""
        return self.view.seed


@dataclass(frozen=True)
class GradientEstimate:
    """What a gradient hook returns for one step."""

    pixel: np.ndarray | None
    """∂s/∂p (or its estimate) ``(H, W, 3)`` float32; ``None`` when uninformative."""
    feature: np.ndarray | None = None
    """The estimated ∂s/∂f ``(d,)`` (black-box), when there is one."""
    uninformative: bool = False
    """True when the step carries no information (no upload is made)."""
    attacked_user: int | None = None
    """The user whose scores/ranks were read, when different from the targeted user."""
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRecord:
    """One step: what was uploaded, what it cost, and the gradient it used."""

    step: int
    """1-based step number."""
    user: int | None
    """The registered user the threat model named for this step (``None``: untargeted)."""
    previous: np.ndarray = field(repr=False)
    """The upload before the step, ``p^t``."""
    image: np.ndarray = field(repr=False)
    """The upload after the step, ``p^{t+1}`` (equal to `previous` if nothing was uploaded)."""
    uploaded: bool
    uninformative: bool
    uploads: int
    """Uploads counted by the client so far (cumulative client counter)."""
    queries: int
    """Queries counted by the client so far (cumulative client counter)."""
    step_uploads: int
    step_queries: int
    feature_gradient: np.ndarray | None = field(default=None, repr=False)
    """The estimated ∂s/∂f (black-box) or true one (white-box, when the handle offers it)."""
    pixel_gradient: np.ndarray | None = field(default=None, repr=False)
    """The (estimated) ∂s/∂p whose sign made the step."""
    attacked_user: int | None = None
    """The user actually probed (a surrogate in the partial-ranking attack), else `user`."""
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttackResult:
    """The outcome of :meth:`Attack.run`."""

    image: np.ndarray = field(repr=False)
    """The final upload."""
    steps: int
    """Steps completed."""
    uploads: int
    """Uploads counted during the run."""
    queries: int
    """Queries counted during the run."""
    uninformative_steps: int
    stopped: str
    """``"completed"`` or ``"budget"`` (the platform refused a call)."""


StepCallback = Callable[[StepRecord], None]


def sign_step(image: np.ndarray, gradient: np.ndarray, epsilon: int) -> np.ndarray:
    """``clip(p + ε·sign(g), 0, 255)`` as uint8.

    >>> sign_step(np.array([[[0, 128, 255]]], np.uint8), np.array([[[-1.0, 2.0, 3.0]]]), 2).tolist()
    [[[0, 130, 255]]]
    """
    if not np.isfinite(gradient).all():  # NaN signs cast to an arbitrary integer: refuse, never upload garbage
        raise AttackError(f"the gradient estimate has {int(np.size(gradient) - np.isfinite(gradient).sum())} "
                          "non-finite entries (NaN or inf): the attack computed something it cannot step on")
    step = np.sign(gradient).astype(np.int16) * np.int16(epsilon)
    return np.clip(image.astype(np.int16) + step, 0, 255).astype(np.uint8)


LATER_DEFAULTS: dict[str, Any] = {
    "knows_defense": False, "surrogate": "identity", "step_block": 1, "block": 1, "eot": 0, "eot_scale": 0.1,
}
"""Settings added with the defenses (issue 11), at their defaults: not part of a unit's key."""


def block_sum(gradient: np.ndarray, block: int) -> np.ndarray:
    """`gradient` ``(H, W, C)`` summed over ``block`` x ``block`` tiles, each tile's sum repeated
    over it (the last tiles may be smaller); ``block = 1`` returns it unchanged.

    >>> block_sum(np.arange(4.0).reshape(2, 2, 1), 2)[..., 0].tolist()
    [[6.0, 6.0], [6.0, 6.0]]
    """
    if block <= 1:
        return gradient
    h, w = gradient.shape[:2]
    bh, bw = -(-h // block), -(-w // block)
    padded = np.zeros((bh * block, bw * block, *gradient.shape[2:]), dtype=np.float64)
    padded[:h, :w] = gradient
    sums = padded.reshape(bh, block, bw, block, *gradient.shape[2:]).sum(axis=(1, 3))
    return np.repeat(np.repeat(sums, block, axis=0), block, axis=1)[:h, :w]


class Attack(ABC):
    """Base of all attacks: keyword-only hyperparameters, a step generator and :meth:`run`.

    Subclasses list the access levels they work with in :attr:`accesses`, keep their
    hyperparameters as attributes named like their ``__init__`` keywords (``repr`` shows them),
    and implement :meth:`begin` (per-run state) and :meth:`step`.
    """

    id: ClassVar[str] = "attack"
    """The registry id (``wb``, ``bb-rank``, ...): the attack's name in configs and results."""
    accesses: ClassVar[tuple[Access, ...]] = ("score", "rank", "partial")

    def __init__(self, *, steps: int = 20) -> None:
        if int(steps) != steps or steps < 0:
            raise ConfigError(f"steps must be a non-negative integer, got {steps}")
        self.steps = int(steps)

    knows_defense: bool = False
    """The attacker knows the platform's defenses: the campaign hands it the public ingest
    pipeline in its view (``view.pipeline``; its model copy then runs a stand-in of it)."""
    surrogate: str = "identity"
    """The backward of the JPEG stand-in when the pipeline is known (``identity``: BPDA)."""

    # -- configuration --------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """The hyperparameters' names: the keyword-only ``__init__`` arguments of the class and its bases."""
        names: list[str] = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind is p.KEYWORD_ONLY and p.name not in names:
                    names.append(p.name)
        return tuple(names)

    def config(self) -> dict[str, Any]:
        """The hyperparameters and their values (``repr`` shows them)."""
        return {n: getattr(self, n) for n in self.parameters() if hasattr(self, n)}

    def key_config(self) -> dict[str, Any]:
        """:meth:`config` as unit keys hash it: settings added after the first release are left
        out at their defaults, so the keys of units run before them stay valid."""
        return {n: v for n, v in self.config().items() if not (n in LATER_DEFAULTS and v == LATER_DEFAULTS[n])}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    # -- running ----------------------------------------------------------------------------
    def validate(self, ctx: AttackContext) -> None:
        """Refuse a context this attack cannot use (wrong access level, missing inputs)."""
        if ctx.client.access not in self.accesses:
            raise ConfigError(f"{type(self).__name__} needs access {self.accesses}, the client has {ctx.client.access!r}")

    @abstractmethod
    def begin(self, ctx: AttackContext) -> Any:
        """Per-run state (must hold the current upload as ``.image``)."""

    @abstractmethod
    def step(self, state: Any, t: int) -> StepRecord:
        """Make step `t` (1-based), upload, and describe it."""

    def iterate(self, ctx: AttackContext) -> Iterator[StepRecord]:
        """Validate, then yield a :class:`StepRecord` after each of :attr:`steps` steps.

        A platform refusal (:class:`~pixelpush.errors.BudgetExceededError`) propagates.
        """
        self.validate(ctx)
        state = self.begin(ctx)
        for t in range(1, self.steps + 1):
            yield self.step(state, t)

    def run(self, ctx: AttackContext, callback: StepCallback | None = None) -> AttackResult:
        """Run all steps, calling `callback(record)` after each; stop early on a budget refusal."""
        client = ctx.client
        uploads0, queries0 = client.uploads, client.queries
        image, done, uninformative, stopped = ctx.image, 0, 0, "completed"
        try:
            for record in self.iterate(ctx):
                image, done = record.image, record.step
                uninformative += int(record.uninformative)
                if callback is not None:
                    callback(record)
        except BudgetExceededError as err:
            _log.info("%s stopped after %d steps: %s", type(self).__name__, done, err)
            stopped = "budget"
        return AttackResult(
            image=image,
            steps=done,
            uploads=client.uploads - uploads0,
            queries=client.queries - queries0,
            uninformative_steps=uninformative,
            stopped=stopped,
        )


@dataclass
class _SignState:
    ctx: AttackContext
    image: np.ndarray


class GradientSignAttack(Attack):
    """``p ← clip(p + ε·sign(g), 0, 255)`` with `g` from the hook :meth:`gradient`, within a
    distortion bound (:mod:`pixelpush.attacks.distortion`; off by default, as in the paper).

    Args:
        epsilon: the step in intensity levels (the paper: 1).
        steps: the number of steps (the paper: at most 20).
        ssim_floor: keep SSIM(original, upload) at least this (None: no floor).
        max_linf: keep every pixel within this many levels of the original (None: no limit).
        mask_threshold: change only pixels whose neighbourhood in the original has at least this
            local standard deviation, in levels (0: every pixel).
    """

    def __init__(
        self,
        *,
        epsilon: int = 1,
        steps: int = 20,
        ssim_floor: float | None = None,
        max_linf: int | None = None,
        mask_threshold: float = 0.0,
        step_block: int = 1,
        knows_defense: bool = False,
        surrogate: str = "identity",
    ) -> None:
        super().__init__(steps=steps)
        if not isinstance(knows_defense, bool):
            raise ConfigError(f"knows_defense must be true or false, got {knows_defense!r}")
        if surrogate not in ("identity", "kornia"):
            raise ConfigError(f"surrogate must be 'identity' or 'kornia', got {surrogate!r}")
        self.knows_defense, self.surrogate = knows_defense, surrogate
        if isinstance(step_block, bool) or int(step_block) != step_block or step_block < 1:
            raise ConfigError(f"step_block must be a positive integer, got {step_block}")
        self.step_block = int(step_block)
        if int(epsilon) != epsilon or not 1 <= epsilon <= 255:
            raise ConfigError(f"epsilon must be an integer number of intensity levels in 1..255, got {epsilon}")
        self.epsilon = int(epsilon)
        self.bound = DistortionBound(ssim_floor=ssim_floor, max_linf=max_linf, mask_threshold=float(mask_threshold))
        self.ssim_floor, self.max_linf, self.mask_threshold = ssim_floor, max_linf, float(mask_threshold)

    def begin(self, ctx: AttackContext) -> Any:
        return _SignState(ctx=ctx, image=ctx.image.copy())

    @abstractmethod
    def gradient(self, state: Any, user: int) -> GradientEstimate:
        """∂s/∂p at ``state.image`` for `user` (or an estimate), or an uninformative estimate."""

    def before_upload(self, state: Any, image: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Called with the next upload just before it is sent (black-box: share its features)."""

    def step(self, state: Any, t: int) -> StepRecord:
        ctx = state.ctx
        client = ctx.client
        uploads0, queries0 = client.uploads, client.queries
        user = ctx.targeting.active_user(ctx.view, ctx.item)
        est = self.gradient(state, user)
        previous = state.image
        uploaded = not est.uninformative and est.pixel is not None
        info = dict(est.info)
        if uploaded:
            image = sign_step(previous, block_sum(est.pixel, self.step_block), self.epsilon)
            if self.bound.active:
                image = self.bound.project(ctx.image, previous, image, est.pixel)
                if np.array_equal(image, previous):  # the bound leaves no room: nothing to upload
                    uploaded, info["bounded"] = False, True
        if uploaded:
            self.before_upload(state, image)
            client.upload_image(ctx.item, image)
            state.image = image
        else:
            _log.debug("step %d: no information or no room for user %s; nothing uploaded", t, user)
        return StepRecord(
            step=t,
            user=user,
            previous=previous,
            image=state.image,
            uploaded=uploaded,
            uninformative=est.uninformative,
            uploads=client.uploads,
            queries=client.queries,
            step_uploads=client.uploads - uploads0,
            step_queries=client.queries - queries0,
            feature_gradient=est.feature,
            pixel_gradient=est.pixel,
            attacked_user=est.attacked_user if est.attacked_user is not None else user,
            info=info,
        )
