"""One module per notebook whose training has a reference band: each defines `RECIPES = {name: Recipe}`.

`cs285lab.references.known_recipes()` imports every module here; add `nbNN.py` for a new band.
"""
