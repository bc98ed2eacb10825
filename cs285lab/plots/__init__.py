"""Plots on top of run logs: live curves while training, run comparison with reference bands.

    from cs285lab.plots import compare_widget, plot_comparison, load_reference, make_reference
"""

from cs285lab.plots.compare import CompareWidget, compare_widget, plot_comparison
from cs285lab.plots.live import LiveCurves
from cs285lab.plots.reference import ReferenceBand, available_references, load_reference, make_reference
from cs285lab.plots.smoothing import smooth

__all__ = ["CompareWidget", "LiveCurves", "ReferenceBand", "available_references", "compare_widget",
           "load_reference", "make_reference", "plot_comparison", "smooth"]
