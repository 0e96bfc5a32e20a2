"""contig: Linux v4.4's alloc_contig_range(), modelled stage by stage for teaching.

The public contract::

    from contig import Geometry, Zone, MigrateType, alloc_contig_range, free_contig_range

``import contig`` needs numpy only; the views live in :mod:`contig.viz`
(matplotlib, ipywidgets) and are imported on demand.
"""

from .contig import ContigResult, alloc_contig_range, errname, free_contig_range
from .geometry import Geometry
from .zone import MigrateType, Zone, ZoneCheckError

__all__ = [
    "ContigResult",
    "Geometry",
    "MigrateType",
    "Zone",
    "ZoneCheckError",
    "alloc_contig_range",
    "errname",
    "free_contig_range",
]

__version__ = "0.1.0"
