"""The attacker's view: everything a black-box attack may hold, and nothing else.

An :class:`AttackerView` holds

- the platform client (``client``): uploads, user registration and the score/rank oracles of
  one access level, counted and budgeted;
- the attacker's *own copy* of the public image model (``image_model``): mutating it changes
  nothing the platform computes;
- the users the attacker registered, with the histories it registered them with (its own
  knowledge), through :meth:`AttackerView.register_user` and :meth:`AttackerView.history`;
- the seed of the attack's own randomness.

:meth:`AttackerView.features` gives the public model's features of the attacker's own uploads
(what it could compute with its copy). :meth:`AttackerView.catalog_features` gives the public
model's features of every catalog item's public product image (any visitor sees the images;
the attacker computes their features once, offline): a campaign may hand over the ones its
feature extraction computed with the same public model, as a read-only copy. In one process the campaign may back it by the
platform's compute-only memo (:meth:`pixelpush.vision.memo.FeatureMemo.reader`), so a probe
batch is pushed through the model once for both sides; that path can only compute, never write.

An attacker that knows the platform's (public) ingest pipeline gets it as ``pipeline``: its
:attr:`~AttackerView.image_model` then runs a differentiable stand-in of the pipeline first
(:class:`pixelpush.vision.standins.KnownPipelineModel`), and :meth:`~AttackerView.features`
gives the exact features of the *processed* uploads (it runs the Pillow pipeline itself), while
:meth:`~AttackerView.catalog_features` reads the catalog's displayed images, which are processed
already. Without it the attacker computes features of its raw uploads, as the paper's attacks do.

Only ``client.upload_image`` and ``client.register_user`` change the platform. The view has no
attribute leading to the platform, the recommender, the catalog's features or the evaluation
users (tests walk its attributes to check).
"""

from __future__ import annotations

import copy

from collections.abc import Callable, Sequence

import numpy as np
import torch

from pixelpush.errors import ConfigError, UnknownIdError
from pixelpush.platform.api import PlatformClient
from pixelpush.platform.ingest import Pipeline
from pixelpush.vision.image_model import ImageModel

__all__ = ["AttackerView"]

FeatureFunction = Callable[[np.ndarray], np.ndarray]


class AttackerView:
    """What an attack receives (see the module docstring).

    Args:
        client: the platform client.
        image_model: the attacker's own copy of the public image model (not the platform's object).
        seed: seed of the attack's randomness.
        features: optional compute-only function ``uploads -> public features`` (see the module
            docstring); by default the attacker's own model computes them.
        users: users already registered for this attacker, with their histories (an attack run
            in its own process receives the ones its threat model registered).
        catalog: the public features ``(N, d)`` of the catalog's public images, if computed
            already (otherwise :meth:`catalog_features` computes them through the client's images).
            The view copies them when an attack first reads them: the caller must not change them.
        pipeline: the platform's ingest pipeline, when the attacker knows it (see the module doc).
        surrogate: the JPEG stand-in's backward (``identity``: BPDA; ``kornia``: differentiable JPEG).
    """

    __slots__ = ("_catalog", "_catalog_source", "_client", "_features", "_image_model", "_pipeline", "_seed", "_users")

    def __init__(
        self,
        client: PlatformClient,
        image_model: ImageModel,
        *,
        seed: int = 0,
        features: FeatureFunction | None = None,
        users: dict[int, np.ndarray] | None = None,
        catalog: np.ndarray | None = None,
        pipeline: Pipeline | None = None,
        surrogate: str = "identity",
    ) -> None:
        if not isinstance(image_model, ImageModel):
            raise ConfigError(f"the attacker's image model must be an ImageModel, got {type(image_model).__name__}")
        pipeline = copy.deepcopy(pipeline) if pipeline else None  # its own copy, like the image model
        if pipeline:
            from pixelpush.vision.standins import KnownPipelineModel

            image_model = KnownPipelineModel(image_model, pipeline, surrogate=surrogate)  # type: ignore[arg-type]
        object.__setattr__(self, "_pipeline", pipeline)
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_image_model", image_model)
        object.__setattr__(self, "_seed", int(seed))
        object.__setattr__(self, "_features", features)
        object.__setattr__(self, "_users", {int(u): np.asarray(h, dtype=np.int64).copy() for u, h in (users or {}).items()})
        # the private read-only copy is made when an attack first asks for it (most never do:
        # at the paper's 455k items it is 0.9 GB per unit)
        object.__setattr__(self, "_catalog_source", catalog)
        object.__setattr__(self, "_catalog", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"an attacker view is read-only (tried to set {name!r})")

    def __repr__(self) -> str:
        return f"AttackerView(client={self._client!r}, image_model={self._image_model.identity!r}, users={len(self._users)})"

    @property
    def client(self) -> PlatformClient:
        """The platform client (its access level decides what can be read)."""
        return self._client

    @property
    def image_model(self) -> ImageModel:
        """The attacker's own copy of the public image model."""
        return self._image_model

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def pipeline(self) -> Pipeline | None:
        """The platform's ingest pipeline if the attacker knows it, else None."""
        return self._pipeline

    @property
    def users(self) -> tuple[int, ...]:
        """The ids of the users this attacker registered, in registration order."""
        return tuple(self._users)

    def registered(self) -> dict[int, np.ndarray]:
        """Every registered user with the history it was registered with (copies)."""
        return {u: h.copy() for u, h in self._users.items()}

    def register_user(self, history: np.ndarray | Sequence[int]) -> int:
        """Register a user who consumed `history` through the client; remember the history."""
        h = np.unique(np.asarray(history, dtype=np.int64).reshape(-1))
        uid = int(self._client.register_user(h))
        self._users[uid] = h
        return uid

    def history(self, user: int) -> np.ndarray:
        """The history the attacker registered `user` with (a copy)."""
        try:
            return self._users[int(user)].copy()
        except KeyError:
            raise UnknownIdError(f"user {user} was not registered by this attacker") from None

    def catalog_features(self, *, batch: int = 64) -> np.ndarray:
        """Public features ``(N, d)`` of every catalog item's public image (read-only; computed once)."""
        if self._catalog is not None:
            return self._catalog
        source = self._catalog_source
        if source is None:
            client, rows = self._client, []
            for start in range(0, client.n_items, batch):
                images = [client.image(i) for i in range(start, min(start + batch, client.n_items))]
                if len({im.shape for im in images}) == 1:
                    rows.append(self._plain_features(np.stack(images)))
                else:
                    rows.extend(self._plain_features(im[None]) for im in images)
            source = np.concatenate(rows)
        object.__setattr__(self, "_catalog", _read_only(source))
        object.__setattr__(self, "_catalog_source", None)  # the caller's array is not held past the copy
        return self._catalog

    def features(self, images: np.ndarray) -> np.ndarray:
        """Public features ``(B, d)`` float32 of uploads ``(B, H, W, 3)`` uint8 (forward only):
        of the processed uploads when the attacker knows the pipeline (exact: Pillow's)."""
        if self._pipeline is not None:
            images = self._pipeline.apply_batch(images)
        return self._plain_features(images)

    def _plain_features(self, images: np.ndarray) -> np.ndarray:
        if self._features is not None:
            return np.asarray(self._features(images), dtype=np.float32)
        from pixelpush.vision.standins import KnownPipelineModel

        model = self._image_model
        if isinstance(model, KnownPipelineModel):
            model = model.inner  # the model itself: these pixels are processed already
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.inference_mode():
            out = model(torch.from_numpy(np.ascontiguousarray(images)).to(device))
        return out.detach().to("cpu", torch.float32).numpy().copy()


def _read_only(array: np.ndarray) -> np.ndarray:
    out = np.array(array, dtype=np.float32)  # a private copy
    out.flags.writeable = False
    return out
