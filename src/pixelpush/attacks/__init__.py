"""Attacks that push an item by uploading perturbed images, and the threat models that target them.

Every attack receives an :class:`AttackerView` (the platform client, its own copy of the public
image model, its own registered users, a seed) and nothing else; the white-box attack also gets
the white-box handle. The registries (:mod:`pixelpush.attacks.registry`) name them all.
"""

from pixelpush.attacks.base import Attack, AttackContext, AttackResult, GradientSignAttack, StepRecord, sign_step
from pixelpush.attacks.baselines import PopularBlend, PopularSwap, most_popular_in_category
from pixelpush.attacks.blackbox import BBRank, BBScore, BlackBoxAttack, ranks_to_scores
from pixelpush.attacks.estimators import FeatureGradientEstimator, MinNormLeastSquares, is_uninformative
from pixelpush.attacks.partial import PartialRankingAttack
from pixelpush.attacks.registry import ATTACKS, THREAT_MODELS, build_attack, build_threat_model
from pixelpush.attacks.threat_models import GeneralPopulation, Preparation, Segment, SpecificUser, ThreatModel
from pixelpush.attacks.view import AttackerView
from pixelpush.attacks.whitebox import WhiteBoxAttack, white_box_gradient

__all__ = [
    "ATTACKS",
    "THREAT_MODELS",
    "Attack",
    "AttackContext",
    "AttackResult",
    "AttackerView",
    "BBRank",
    "BBScore",
    "BlackBoxAttack",
    "FeatureGradientEstimator",
    "GeneralPopulation",
    "GradientSignAttack",
    "MinNormLeastSquares",
    "PartialRankingAttack",
    "PopularBlend",
    "PopularSwap",
    "Preparation",
    "Segment",
    "SpecificUser",
    "StepRecord",
    "ThreatModel",
    "WhiteBoxAttack",
    "build_attack",
    "build_threat_model",
    "is_uninformative",
    "most_popular_in_category",
    "ranks_to_scores",
    "sign_step",
    "white_box_gradient",
]
