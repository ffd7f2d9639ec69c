"""pixelpush: adversarial visual attacks on visually-aware recommender systems.

Implements Cohen, Sar Shalom, Jannach, Amir, "A Black-Box Attack Model for Visually-Aware
Recommender Systems", WSDM '21, and goes beyond it.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
