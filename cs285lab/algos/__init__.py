"""Algorithms that later notebooks reuse (written once, imported by the notebooks)."""
