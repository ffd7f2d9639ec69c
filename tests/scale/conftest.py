"""The Ray tests' shared, private local Ray instance (skipped without the ``scale`` extra).

One instance serves every test of this folder (starting one costs seconds): the engines and
the feature extraction find Ray initialised in this process and use it. It is shut down when
the folder's tests are done.
"""

from __future__ import annotations

import pytest
from ray_helpers import SKIP_REASON


@pytest.fixture(scope="package")
def ray_instance():
    """``ray``, connected to a private local instance sized to this machine."""
    pytest.importorskip("ray", reason=SKIP_REASON)
    from pixelpush.ray_runtime import ray_session

    with ray_session() as ray:
        yield ray
