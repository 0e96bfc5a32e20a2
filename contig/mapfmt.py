"""The map alphabet: one character per PFN, one per pageblock.

This is how the course writes a zone down (``Zone.from_map`` / ``Zone.to_map``)
and how the model stores page kinds internally: the per-PFN ``kind`` array
holds the ASCII code of the page's map character, so rendering a map is a
single ``tobytes()``.

Also here: the vectorised cutting of a run of pages into maximal naturally
aligned power-of-two blocks, used both for free pages (the canonical buddy
structure) and for THP / hugetlb runs (compound pages).
"""

from __future__ import annotations

import numpy as np

from .argcheck import ArgTypeError

__all__ = [
    "BLOCK_CHARS",
    "KINDS",
    "KIND_DESCRIPTIONS",
    "aligned_blocks",
    "block_codes",
    "kind_codes",
]

#: One character per PFN.  Order matters only for documentation.
KIND_DESCRIPTIONS: dict[str, str] = {
    ".": "free page in the buddy allocator",
    "M": "movable anonymous page on the LRU (can be migrated)",
    "F": "clean page-cache page on the LRU (dropped instead of migrated)",
    "P": "pinned anonymous page on the LRU (extra reference: migration skips it)",
    "U": "unmovable kernel page (slab, page table ...): in use, not on the LRU",
    "R": "reserved page (PageReserved): in use, not on the LRU",
    "T": "transparent huge page (compound, on the LRU)",
    "H": "hugetlb page (compound, not on the LRU)",
    "p": "free page sitting on a per-CPU list (not yet in the buddy allocator)",
    "v": "movable page still in a per-CPU LRU pagevec (not yet on the LRU)",
    "X": "page owned by a contiguous allocation (refcount 1, not on the LRU)",
    "#": "invalid PFN: a hole, no struct page",
}
KINDS = "".join(KIND_DESCRIPTIONS)

#: One character per pageblock, indexed by MigrateType value.
BLOCK_CHARS = "UMRHCI"

_KIND_OK = np.zeros(256, dtype=bool)
_KIND_OK[np.frombuffer(KINDS.encode(), dtype=np.uint8)] = True
_BLOCK_CODE = np.full(256, 255, dtype=np.uint8)
for _v, _c in enumerate(BLOCK_CHARS):
    _BLOCK_CODE[ord(_c)] = _v


def _first_bad(codes: np.ndarray, ok: np.ndarray) -> int | None:
    bad = np.flatnonzero(~ok[codes])
    return int(bad[0]) if bad.size else None


def kind_codes(pages: str | bytes | np.ndarray, start_pfn: int = 0) -> np.ndarray:
    """Return the per-PFN kind codes (uint8 ASCII) of a map, validating every character.

    :raises ValueError: naming the first unknown character and its PFN.
    """
    if isinstance(pages, str):
        try:
            raw = pages.encode("ascii")
        except UnicodeEncodeError as exc:
            bad = pages[exc.start]
            raise ValueError(
                f"unknown map character {bad!r} at PFN {start_pfn + exc.start}; "
                f"valid characters are {KINDS!r}") from None
        codes = np.frombuffer(raw, dtype=np.uint8).copy()
    elif isinstance(pages, bytes | bytearray):
        codes = np.frombuffer(bytes(pages), dtype=np.uint8).copy()
    elif isinstance(pages, np.ndarray):
        codes = pages
        if codes.dtype != np.uint8:
            if codes.dtype.kind not in "iu":
                raise ArgTypeError(f"kinds must be uint8 character codes, got dtype {codes.dtype}")
            if codes.size and (codes.min() < 0 or codes.max() > 255):
                raise ValueError(f"kinds must be uint8 character codes, got values "
                                 f"{int(codes.min())}..{int(codes.max())}")
            codes = codes.astype(np.uint8)
        codes = np.ascontiguousarray(codes)
    else:
        raise ArgTypeError(f"a map must be a str, bytes or a uint8 array, not {type(pages).__name__}")
    if codes.ndim != 1:
        raise ValueError(f"a map is one-dimensional, got shape {codes.shape}")
    if codes.size == 0:
        raise ValueError("a zone needs at least one PFN: the map is empty")
    i = _first_bad(codes, _KIND_OK)
    if i is not None:
        raise ValueError(f"unknown map character {chr(codes[i])!r} at PFN {start_pfn + i}; "
                         f"valid characters are {KINDS!r}")
    return codes


def block_codes(blocks: str | np.ndarray, nblocks: int) -> np.ndarray:
    """Return MigrateType values for a blocks string (``U M R H C I``) or array.

    :raises ValueError: on a wrong length or an unknown character.
    """
    if isinstance(blocks, str):
        raw = np.frombuffer(blocks.encode("ascii", "replace"), dtype=np.uint8)
        codes = _BLOCK_CODE[raw]
        bad = np.flatnonzero(codes == 255)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"unknown pageblock character {blocks[i]!r} at block {i}; "
                             f"valid characters are {BLOCK_CHARS!r}")
    elif isinstance(blocks, np.ndarray | list | tuple):
        codes = np.asarray(blocks)
        if codes.dtype.kind not in "iu" or codes.ndim != 1:
            raise ArgTypeError(f"blocks must be a string or a 1-D integer array, not {blocks!r}")
        if codes.size and (codes.min() < 0 or codes.max() >= len(BLOCK_CHARS)):
            raise ValueError(f"pageblock migratetype values must be in 0..5, got "
                             f"{int(codes.min())}..{int(codes.max())}")
        codes = codes.astype(np.uint8)
    else:
        raise ArgTypeError(f"blocks must be a string or a 1-D integer array, not {blocks!r}")
    if codes.size != nblocks:
        raise ValueError(f"blocks has {codes.size} entries but the zone overlaps {nblocks} pageblocks")
    return codes.copy()


def aligned_blocks(mask: np.ndarray, start_pfn: int, max_k: int,
                   min_k: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the True runs of ``mask`` into maximal naturally aligned power-of-two blocks.

    Alignment is by absolute PFN (``start_pfn + offset``), as the kernel's
    buddy arithmetic is.  Blocks are at most order ``max_k`` and at least
    ``min_k``.

    :return: (offsets of block heads, their orders, a bool array of the mask
        pages that no block of order >= ``min_k`` covers), heads ascending.
    """
    n = mask.size
    # the True runs [a, e), as absolute PFNs; each is cut greedily from its start: the
    # largest block that is aligned there and fits (the same maximal blocks, unique)
    m8 = np.zeros(n + 2, dtype=np.int8)
    m8[1:-1] = mask
    d = np.diff(m8)
    pos = np.flatnonzero(d == 1).astype(np.int64) + start_pfn
    end = np.flatnonzero(d == -1).astype(np.int64) + start_pfn
    big = 1 << max_k
    hs: list[np.ndarray] = []
    ks: list[np.ndarray] = []
    while pos.size:
        # every whole block of order max_k from an aligned position at once
        nfull = np.where((pos & (big - 1)) == 0, (end - pos) >> max_k, 0)
        if nfull.any():
            sel = np.flatnonzero(nfull)
            reps = nfull[sel]
            tot = int(reps.sum())
            first = np.repeat(pos[sel], reps)
            within = np.arange(tot, dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
            hs.append(first + (within << max_k))
            ks.append(np.full(tot, max_k, dtype=np.int64))
            pos = pos + (nfull << max_k)
            live = pos < end
            pos, end = pos[live], end[live]
            if not pos.size:
                break
        align = np.where(pos == 0, max_k, np.frexp((pos & -pos).astype(np.float64))[1] - 1)
        fit = np.frexp((end - pos).astype(np.float64))[1] - 1
        k = np.minimum(np.minimum(align, fit), max_k).astype(np.int64)
        hs.append(pos)
        ks.append(k)
        pos = pos + (np.int64(1) << k)
        live = pos < end
        pos, end = pos[live], end[live]
    cov_small = np.zeros(n, dtype=bool)
    if hs:
        heads = np.concatenate(hs) - start_pfn
        korders = np.concatenate(ks)
        srt = np.argsort(heads, kind="stable")
        heads, korders = heads[srt], korders[srt]
        small = korders < min_k
        if small.any():
            sh, sk = heads[small], korders[small]
            sizes = np.int64(1) << sk
            pages = np.repeat(sh, sizes) + (np.arange(int(sizes.sum()), dtype=np.int64)
                                            - np.repeat(np.cumsum(sizes) - sizes, sizes))
            cov_small[pages] = True
            heads, korders = heads[~small], korders[~small]
        orders = korders.astype(np.int8)
    else:
        heads = np.zeros(0, dtype=np.int64)
        orders = np.zeros(0, dtype=np.int8)
    return heads, orders, cov_small

