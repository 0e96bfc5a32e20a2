"""The Linux v4.4 kernel model, by name.

The v4.4 functions still live at the top level of the package
(:mod:`contig.buddy`, :mod:`contig.pcp`, :mod:`contig.isolation`,
:mod:`contig.migrate`, :mod:`contig.contig`); this package gives them the
name that sits beside :mod:`contig.v6_18`, so a reader can write
``contig.v4_4.alloc_contig_range`` and ``contig.v6_18.alloc_contig_range``
side by side.  ``contig.alloc_contig_range`` is the same v4.4 function.
"""

from __future__ import annotations

from ..contig import ContigResult, alloc_contig_range, free_contig_range

__all__ = ["VERSION", "ContigResult", "alloc_contig_range", "free_contig_range"]

#: The kernel release this package models.
VERSION = "4.4"
