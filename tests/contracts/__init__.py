"""Contract harnesses: every recommender and every attack passes the same tests by subclassing."""
