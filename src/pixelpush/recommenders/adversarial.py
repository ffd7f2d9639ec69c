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

import torch
import torch.nn.functional as F

__all__ = ["adversarial_loss"]


def adversarial_loss(
    model: torch.nn.Module, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, features: torch.Tensor, epsilon: float
) -> torch.Tensor:
    """The BPR loss of the triples at features moved by the worst-case ``||Δ_i|| = epsilon`` (a scalar).

    `features` are all items' raw features ``(n_items, d)``; `model` a factor model with
    ``pair_difference`` and ``feature_scale``. The perturbation is a constant (no gradient flows
    through its computation), as in AMR.
    """
    items, at = torch.unique(torch.cat([pos, neg]), return_inverse=True)
    delta = torch.zeros(len(items), features.shape[1], dtype=features.dtype, requires_grad=True)
    scale = model.feature_scale.to(features.dtype)

    def loss_at(shift: torch.Tensor) -> torch.Tensor:
        moved = features.index_add(0, items, shift * scale)  # raw units: the model divides by scale
        return -F.logsigmoid(model.pair_difference(users, pos, neg, moved)).mean()

    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss_at(delta), delta)
    worst = epsilon * F.normalize(grad.detach(), dim=1)
    del at
    return loss_at(worst)
