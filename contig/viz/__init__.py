"""Views of the model: matplotlib drawings (:mod:`contig.viz.plot`) and
ipywidgets apps (:mod:`contig.viz.widgets`).

Imported on demand: ``import contig`` never imports matplotlib or ipywidgets.
``import contig.viz`` imports matplotlib (not pyplot) for the drawings;
ipywidgets is imported only with :mod:`contig.viz.widgets`, which the names
``RangeExplorer``, ``StepPlayer`` and ``KernelComparer`` below load on first use.
:func:`compare_kernels` (:mod:`contig.viz.compare`) draws Linux 4.4 and 6.18 side by side.
"""

from .colors import KIND_COLORS, MIGRATETYPE_COLORS, kind_cmap, kind_legend, migratetype_cmap
from .compare import compare_kernels
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
    "KernelComparer",
    "RangeExplorer",
    "ResultFigure",
    "StepPlayer",
    "ZoneState",
    "ZoneView",
    "compare_kernels",
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
    if name in ("RangeExplorer", "StepPlayer", "KernelComparer"):
        from . import widgets
        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
