"""Visually-aware recommenders (BPR, VBPR, DeepStyle), their training and evaluation."""
