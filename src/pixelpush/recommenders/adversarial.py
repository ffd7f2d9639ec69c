"""AMR-style adversarial training (Tang et al., "Adversarial Training Towards Robust Multimedia
Recommender System", TKDE 2019): a loss term on item features perturbed against the model.

For a batch of BPR triples, each distinct item's features get the perturbation ``Δ_i`` of L2
norm ``epsilon`` (in the model's normalised feature space, where the mean feature norm is 1)
along the gradient of the batch's BPR loss with respect to its features (the fast-gradient
direction, normalised per item as AMR does); the term is the BPR loss at those perturbed
features. Training minimises ``loss + weight · adversarial_loss``, which makes the score flat
in the directions an attacker would push the features.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pixelpush.recommenders.factor import FactorModel, TripleBatch

__all__ = ["adversarial_batch_loss", "adversarial_loss"]


def adversarial_batch_loss(model: FactorModel, batch: TripleBatch, epsilon: float) -> torch.Tensor:
    """The BPR loss of `batch` at features moved by the worst-case ``||Δ_i|| = epsilon`` (a scalar).

    Each of the batch's distinct items (``batch.items``) gets its own ``Δ_i``, in the model's
    normalised feature space. The perturbation is a constant (no gradient flows through its
    computation), as in AMR; the loss's gradient reaches the rows `batch` reads.
    """
    if batch.features is None:
        raise ValueError("adversarial training needs the batch's features")
    features = batch.features
    delta = torch.zeros(len(batch.items), features.shape[1], dtype=features.dtype, requires_grad=True)
    scale = model.feature_scale.to(features.dtype)

    def loss_at(shift: torch.Tensor) -> torch.Tensor:
        moved = features.index_add(0, batch.items, shift * scale)  # raw units: the model divides by scale
        return -F.logsigmoid(model.batch_difference(dataclasses.replace(batch, features=moved, _taken={}))).mean()

    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss_at(delta), delta)
    return loss_at(epsilon * F.normalize(grad.detach(), dim=1))


def adversarial_loss(
    model: FactorModel, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, features: torch.Tensor, epsilon: float
) -> torch.Tensor:
    """:func:`adversarial_batch_loss` of the triples ``(users, pos, neg)`` over the whole tables.

    `features` are all items' raw features ``(n_items, d)``.
    """
    return adversarial_batch_loss(model, model.whole_batch(users, pos, neg, features), epsilon)
