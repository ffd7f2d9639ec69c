"""Attacks that push an item by uploading perturbed images, and the threat models that target them.

White-box (:class:`WhiteBoxAttack`), black-box on scores and ranks (:class:`BlackBoxAttack`),
on partial rankings (:class:`PartialRankingAttack`), the popular-image baselines, and the
specific-user / segment / general-population threat models.
"""

from pixelpush.attacks.base import Attack, AttackContext, AttackResult, GradientSignAttack, StepRecord, sign_step
from pixelpush.attacks.baselines import PopularBlend, PopularSwap, most_popular_in_category
from pixelpush.attacks.blackbox import BlackBoxAttack, ranks_to_scores
from pixelpush.attacks.estimators import FeatureGradientEstimator, MinNormLeastSquares, is_uninformative
from pixelpush.attacks.partial import PartialRankingAttack
from pixelpush.attacks.threat_models import GeneralPopulation, Segment, SpecificUser, ThreatModel
from pixelpush.attacks.whitebox import WhiteBoxAttack, white_box_gradient

__all__ = [
    "Attack",
    "AttackContext",
    "AttackResult",
    "BlackBoxAttack",
    "FeatureGradientEstimator",
    "GeneralPopulation",
    "GradientSignAttack",
    "MinNormLeastSquares",
    "PartialRankingAttack",
    "PopularBlend",
    "PopularSwap",
    "Segment",
    "SpecificUser",
    "StepRecord",
    "ThreatModel",
    "WhiteBoxAttack",
    "is_uninformative",
    "most_popular_in_category",
    "ranks_to_scores",
    "sign_step",
    "white_box_gradient",
]
