"""Defenses against visual attacks, each a component with a typed config (one registry).

- ``ingest``: input transformations at ingest (JPEG, resize, crop, bit depth, median), the
  platform's pipeline (:mod:`pixelpush.platform.ingest`);
- ``adversarial-training``: AMR (:mod:`pixelpush.recommenders.adversarial`);
- ``visual-regularisation``: the L2 weight on the visual terms, as a knob;
- ``reveal-limit``: truncation, noise, rate limits for new accounts (:mod:`pixelpush.defenses.reveal`);
- ``upload-monitor``: probing detection from the upload stream (:mod:`pixelpush.defenses.monitor`).
"""

from pixelpush.defenses.registry import DEFENSES, NO_DEFENSE, Defense, DefenseEntry, build_defense

__all__ = ["DEFENSES", "NO_DEFENSE", "Defense", "DefenseEntry", "build_defense"]
