#!/usr/bin/env python3
"""Link each glossary term's first use in each notebook to notebooks/99-glossary.ipynb.

    python scripts/link_glossary.py                    notebooks 00-19
    python scripts/link_glossary.py notebooks/05-x.ipynb

Only markdown cells change, and only by wrapping a word in a link
``[pageblock](99-glossary.ipynb#pageblock)``.  A term already linked
anywhere in a notebook is left alone, so running it again (say after a merge
took another version of a cell) adds only the links that are missing.  Not
linked: headings, code blocks, existing links and HTML, file paths, and in
notebooks 00-11 the "Check yourself" section and everything after it.  No
kernel is run: rebuild outputs with build_notebooks.py as usual.
"""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_notebooks import read, render

REPO = Path(__file__).resolve().parents[1]

G = "99-glossary.ipynb"
# (anchor, pattern for plain text, pattern a whole code span may equal)
TERMS = [
    ("pfn", r"\bPFNs?\b", None),
    ("page-frame", r"\bpage frames?\b", None),
    ("struct-page", None, r"struct page"),
    ("zone", r"\bzones?\b", None),
    ("half-open-range", r"\bhalf-open\b", None),
    ("buddy-allocator", r"\bbuddy allocator\b", None),
    ("order", r"\border(?=[ -](?:\d|k\b|\*))", None),
    ("free-list", r"\bfree lists?\b", None),
    ("max-order", r"\bMAX_ORDER\b", r"MAX_ORDER"),
    ("pageblock", r"\bpageblocks?\b", None),
    ("pageblock-order", r"\bpageblock_order\b", r"pageblock_order"),
    ("migratetype", r"\bmigratetypes?\b", None),
    ("nr-free-pages", None, r"NR_FREE_PAGES"),
    ("watermark", r"\bwatermarks?\b", None),
    ("lru", r"\bLRU\b", None),
    ("pagevec", r"\bpagevecs?\b", None),
    ("pcp", r"\bper-CPU (?:free )?lists?\b", None),
    ("refcount", r"\breference counts?\b|\brefcount\b", None),
    ("mapcount", r"\bmapcount\b|\bmap count\b", None),
    ("page-cache", r"\bpage[- ]cache\b", None),
    ("compound-page", r"\bcompound pages?\b", None),
    ("thp", r"\btransparent huge pages?\b|\bTHPs?\b", None),
    ("hugetlb", r"\bhugetlb\b", None),
    ("gigantic-page", r"\bgigantic (?:huge )?pages?\b", None),
    ("cma", r"\bCMA\b", None),
    ("iommu", r"\bIOMMU\b", None),
    ("memory-offlining", r"\b[Mm]emory offlining\b", None),
    ("isolation", r"\bisolation\b", None),
    ("migration", r"\bmigration\b", None),
    ("reclaim", r"\breclaim\b", None),
    ("compaction", r"\bcompaction\b", None),
    ("outer-start", None, r"outer_start"),
    ("ebusy", None, r"-EBUSY"),
    ("enomem", None, r"-ENOMEM"),
    ("eintr", None, r"-EINTR"),
    ("hole", r"\bholes?\b", None),
    ("kpageflags", None, r"/proc/kpageflags"),
    ("cma-bitmap", r"\b(?:CMA|area's) bitmap\b", None),
    ("dmesg", r"\bdmesg\b", None),
    ("isolate-bit", r"\bisolate bit\b", None),
    ("acr-flags", None, r"acr_flags"),
    ("find-large-buddy", None, r"find_large_buddy\(\)"),
    ("pageblock-granular-isolation", r"\bpageblock granularity\b", None),
]

# a markdown line is cut into: code spans, links/images, HTML tags, URLs, and plain text
TOKEN = re.compile(r"(`[^`]+`|!?\[[^\]]*\]\([^)]*\)|<[^>]+>|https?://\S+)")


def link_first(source: str, done: set[str]) -> str:
    out_lines = []
    fence = False
    for line in source.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            out_lines.append(line)
            continue
        if fence or line.lstrip().startswith("#") or line.startswith("<!--"):
            out_lines.append(line)
            continue
        parts = TOKEN.split(line)
        for anchor, plain, span in TERMS:
            if anchor in done:
                continue
            for i, part in enumerate(parts):
                if not part:
                    continue
                is_tok = bool(TOKEN.fullmatch(part))
                if is_tok:
                    if span and part.startswith("`") and part.strip("`") == span:
                        parts[i] = f"[{part}]({G}#{anchor})"
                        done.add(anchor)
                        break
                    continue
                if plain:
                    m = next((m for m in re.finditer(plain, part)
                              if part[m.start() - 1:m.start()] != "/"
                              and not re.match(r"\.\w", part[m.end():])
                              and not part[m.end():].startswith(" busy")), None)
                    if m:
                        parts[i] = (part[:m.start()] + f"[{m.group(0)}]({G}#{anchor})"
                                    + part[m.end():])
                        # the new link must not be matched again by a later term
                        parts[i:i + 1] = TOKEN.split(parts[i])
                        done.add(anchor)
                        break
        out_lines.append("".join(parts))
    return "\n".join(out_lines)


def main(paths):
    for path in map(Path, paths):
        nb = read(path)
        before = render(nb)
        done = set()
        # terms linked by hand already count as linked
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                done |= set(re.findall(re.escape(G) + r"#([\w-]+)", cell.source))
        mine = path.name[:2] in ("12", "13")
        for cell in nb.cells:
            if cell.cell_type != "markdown" or cell.source.startswith("<!--NAVIGATION-->"):
                continue
            # in 00-11 the check-yourself section and what follows belong to another helper
            if not mine and "## Check yourself" in cell.source:
                break
            cell.source = link_first(cell.source, done)
        after = render(nb)
        if after != before:
            path.write_text(after, encoding="utf-8")
        print(f"{path.name}: {len(done)} glossary terms linked")


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(str(p) for p in (REPO / "notebooks").glob("[01][0-9]-*.ipynb")))
