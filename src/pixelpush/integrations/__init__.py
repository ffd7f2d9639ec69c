"""Adapters for models and services pixelpush did not write: a user's ``module:factory``, Cornac
models, a remote score- or rank-only service. See ``docs/model-interface.md``."""
