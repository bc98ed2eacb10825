"""Course-level reference bands: the recipes that regenerate the shipped bands, and their command line.

The band data model (ReferenceBand, load_reference, make_reference) is cs285lab.plots.reference;
this package sits on top of it and of the algorithms: a recipe is a notebook's training call at its
budget (cs285lab/references/recipes/<notebook>.py), and `python -m cs285lab.references` builds,
regenerates or lists bands.
"""

from __future__ import annotations

from cs285lab.references.recipe import RECIPES, Recipe, generate, known_recipes

__all__ = ["RECIPES", "Recipe", "generate", "known_recipes"]
