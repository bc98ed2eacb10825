"""One module per notebook whose training has a reference band: each defines `RECIPES = {name: Recipe}`.

`cs285lab.plots.reference.recipes()` imports every module here; add `nbNN.py` for a new band.
"""
