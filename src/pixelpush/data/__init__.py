"""Catalogs and interactions: the embedded "fashion" default, MovieLens+posters, Amazon."""
