"""Metrics (hit ratio, SSIM), campaigns (resumable, parallel) and the paper's experiments."""
