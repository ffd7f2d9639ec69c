"""Thin commands: config -> library -> artefacts."""
