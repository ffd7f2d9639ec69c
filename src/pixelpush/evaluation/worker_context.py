"""What a worker needs to run a campaign's units, shipped from the driver, and how it runs them.

The driver prepares a campaign once (features, trained models); a worker, whether a local
process or a Ray worker on another machine, rebuilds the same :class:`CampaignContext` from a
:class:`WorkerInputs`: the validated config, the public image model and the recommenders as
pickled bytes (a worker imports torchvision's compatibility shim before unpickling them), and the
catalog features with their digest. Only the dataset is loaded again, by name from the config
(for a dataset that is not embedded, ``dataset.root`` must name the same data on every node).

Units run on one intra-op thread (:func:`single_threaded`): kernels' reduction order, and so
every number, then does not depend on how many workers share a machine.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pixelpush.data.registry import load_dataset
from pixelpush.devices import cpu_pickle, resolve_device
from pixelpush.errors import DataError
from pixelpush.evaluation.config import CampaignConfig
from pixelpush.evaluation.preparation import CampaignContext

__all__ = ["WorkerInputs", "single_threaded"]


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block on one torch intra-op thread (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class WorkerInputs:
    """A campaign's prepared state, picklable and independent of the driver's files."""

    config: CampaignConfig
    image_model: bytes
    recommenders: bytes
    features: np.ndarray
    features_digest: str
    n_users: int
    processed_features: dict[str, np.ndarray] = field(default_factory=dict)
    """The catalog's features under each ingest pipeline of the campaign's defenses."""
    services: dict[str, Any] = field(default_factory=dict)
    """The attacked models that are remote services (their ``[models]`` tables)."""

    @classmethod
    def from_context(cls, ctx: CampaignContext) -> WorkerInputs:
        """The inputs of `ctx`'s workers (models on the CPU; a worker moves them to its device)."""
        return cls(
            ctx.config,
            cpu_pickle(ctx.image_model),
            pickle.dumps(ctx.recommenders),
            np.asarray(ctx.features),
            ctx.features_digest,
            ctx.dataset.n_users,
            {k: np.asarray(v) for k, v in ctx.processed_features.items()},
            dict(ctx.services),
        )

    def context(self, *, device: str | None = None) -> CampaignContext:
        """The campaign's context in this worker; the image model on `device` (default: the config's)."""
        from pixelpush.vision.torchvision_compat import import_torchvision

        import_torchvision()  # before unpickling a model built on torchvision's classes
        config = self.config
        dataset = load_dataset(config.dataset.name, root=config.dataset.root, **config.dataset.options)
        if dataset.n_items != len(self.features) or dataset.n_users != self.n_users:
            raise DataError(
                f"this worker loaded dataset {dataset.name!r} with {dataset.n_users} users x {dataset.n_items} items, "
                f"the driver's has {self.n_users} x {len(self.features)}: give every worker the same data (dataset.root)"
            )
        image_model = pickle.loads(self.image_model).to(resolve_device(device or config.device))
        features = np.array(self.features, dtype=np.float32)  # a private, writable copy
        processed = {k: np.array(v, dtype=np.float32) for k, v in self.processed_features.items()}
        return CampaignContext(
            config, dataset, image_model, features, pickle.loads(self.recommenders), {}, {}, self.features_digest,
            processed, dict(self.services),
        )


