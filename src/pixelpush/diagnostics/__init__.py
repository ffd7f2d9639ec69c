"""Why images do or do not help a recommender on a dataset: probes, regime figures, gains, curves."""
