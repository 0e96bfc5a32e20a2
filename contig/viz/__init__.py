"""Views of the model: matplotlib drawings (:mod:`contig.viz.plot`) and
ipywidgets apps (:mod:`contig.viz.widgets`).

Imported on demand: ``import contig`` never imports matplotlib or ipywidgets.
``import contig.viz`` imports matplotlib (not pyplot) for the drawings;
ipywidgets is imported only with :mod:`contig.viz.widgets`, which the names
``RangeExplorer`` and ``StepPlayer`` below load on first use.
"""

from .colors import KIND_COLORS, MIGRATETYPE_COLORS, kind_cmap, kind_legend, migratetype_cmap
from .plot import (
    ResultFigure,
    ZoneState,
    ZoneView,
    draw_alignment,
    draw_free_lists,
    draw_head_tail,
    draw_isolation,
    draw_migration,
    draw_zone,
    plot_result,
    show_zone,
    state_after,
)

__all__ = [
    "KIND_COLORS",
    "MIGRATETYPE_COLORS",
    "RangeExplorer",
    "ResultFigure",
    "StepPlayer",
    "ZoneState",
    "ZoneView",
    "draw_alignment",
    "draw_free_lists",
    "draw_head_tail",
    "draw_isolation",
    "draw_migration",
    "draw_zone",
    "kind_cmap",
    "kind_legend",
    "migratetype_cmap",
    "plot_result",
    "show_zone",
    "state_after",
]


def __getattr__(name: str):
    # the widget apps need ipywidgets: load them only when asked for
    if name in ("RangeExplorer", "StepPlayer"):
        from . import widgets
        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
