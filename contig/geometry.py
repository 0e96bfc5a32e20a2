"""Zone geometry: buddy orders, pageblocks and the alignment of contiguous requests.

Models the constants ``MAX_ORDER``, ``MAX_ORDER_NR_PAGES``, ``pageblock_order``
and ``pageblock_nr_pages`` (include/linux/mmzone.h, include/linux/pageblock-flags.h)
and the helpers ``pfn_max_align_down()`` / ``pfn_max_align_up()``
(mm/page_alloc.c), Linux v4.4.

In v4.4 ``MAX_ORDER`` is *exclusive*: buddy orders run ``0 .. MAX_ORDER-1``.
(Linux 6.4 redefined it as the largest inclusive order; contig keeps the v4.4
meaning everywhere.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .argcheck import check_int

__all__ = ["Geometry"]


@dataclass(frozen=True)
class Geometry:
    """Buddy and pageblock sizes of a zone.

    :param max_order: the kernel's ``MAX_ORDER`` (v4.4 meaning: exclusive).
    :param pageblock_order: ``pageblock_order`` (9 on x86-64: 2 MiB blocks).
    :raises ValueError: a value outside 1..20 (``max_order``) or 0..20
        (``pageblock_order``); :class:`~contig.argcheck.ArgTypeError` (a
        ValueError too) for a bool, a float or a string.

    The defaults are x86-64 with 4 KiB pages.  Small geometries such as
    ``Geometry(max_order=4, pageblock_order=2)`` (8-page max blocks, 4-page
    pageblocks) put a whole zone on one screen.

    >>> g = Geometry()
    >>> g.max_order_nr_pages, g.pageblock_nr_pages
    (1024, 512)
    >>> g.pfn_max_align_down(0x12345), g.pfn_max_align_up(0x12545)
    (73728, 75776)
    """

    max_order: int = 11
    pageblock_order: int = 9

    def __post_init__(self) -> None:
        for name, lo in (("max_order", 1), ("pageblock_order", 0)):
            value = getattr(self, name)
            v = check_int(name, value)
            if not lo <= v <= 20:
                raise ValueError(f"{name} must be in {lo}..20, not {v}")
            object.__setattr__(self, name, v)   # a numpy int becomes a Python int

    @property
    def max_order_nr_pages(self) -> int:
        """``MAX_ORDER_NR_PAGES``: pages in the largest buddy block, ``1 << (MAX_ORDER-1)``."""
        return 1 << (self.max_order - 1)

    @property
    def pageblock_nr_pages(self) -> int:
        """``pageblock_nr_pages``: pages per pageblock, ``1 << pageblock_order``."""
        return 1 << self.pageblock_order

    @property
    def max_align_nr_pages(self) -> int:
        """The unit ``pfn_max_align_*`` rounds to: max(MAX_ORDER_NR_PAGES, pageblock_nr_pages)."""
        return max(self.max_order_nr_pages, self.pageblock_nr_pages)

    def pfn_max_align_down(self, pfn: int) -> int:
        """Round ``pfn`` down to a multiple of :attr:`max_align_nr_pages`.

        Models pfn_max_align_down(), mm/page_alloc.c, Linux v4.4.
        """
        return check_int("pfn", pfn, lo=0) & ~(self.max_align_nr_pages - 1)

    def pfn_max_align_up(self, pfn: int) -> int:
        """Round ``pfn`` up to a multiple of :attr:`max_align_nr_pages` (unchanged if aligned).

        Models pfn_max_align_up(), mm/page_alloc.c, Linux v4.4.
        """
        a = self.max_align_nr_pages
        return (check_int("pfn", pfn, lo=0) + a - 1) & ~(a - 1)

    def pageblock_start(self, pfn: int) -> int:
        """First PFN of the pageblock holding ``pfn``."""
        return check_int("pfn", pfn, lo=0) & ~(self.pageblock_nr_pages - 1)

    def __str__(self) -> str:
        return (f"Geometry(max_order={self.max_order}, pageblock_order={self.pageblock_order}): "
                f"{self.max_order_nr_pages}-page max blocks, {self.pageblock_nr_pages}-page pageblocks")
