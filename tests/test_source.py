"""contig.source: every event and stage each model produces points at its source.

The v4.4 model (contig.v4_4, the top-level names) at v4.4 lines; the Linux 6.18
model (contig.v6_18) at 6.18 lines (``where(name, kernel="6.18")``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from contig import MigrateType, alloc_contig_range, source
from contig import v6_18 as k618
from contig.scenarios import SCENARIOS

PKG = Path(source.__file__).resolve().parent

# literal names passed to emit(z, "name", ...) or to the migration loop's note("name", ...)
_EMIT = re.compile(r'\b(?:emit|note)\(\s*(?:z,\s*)?"([A-Za-z_]\w*)"')


def _scanned_funcs(kernel: str = "4.4") -> set[str]:
    """Every name an emit() of a model can produce: v4.4, everything but contig/v6_18;
    6.18, contig/v6_18 (what it imports from v4.4 is collected by running it, below)."""
    names = set()
    for path in PKG.rglob("*.py"):
        if ("v6_18" in path.parts) != (kernel == "6.18"):
            continue
        names |= set(_EMIT.findall(path.read_text(encoding="utf-8")))
    return names


def _run_funcs_and_stages() -> tuple[set[str], set[str]]:
    """Run every scenario (whole-batch and page-by-page migration) and collect what it emits."""
    funcs, stages = set(), set()
    for sc in SCENARIOS.values():
        for bulk in (False, True):
            for mt in (sc.migratetype, MigrateType.CMA):
                _z, r = sc.run(bulk=bulk, migratetype=mt)
                funcs |= {e.func for e in r.events}
                stages |= {e.stage for e in r.events}
    return funcs, stages


@pytest.fixture(scope="module")
def emitted():
    return _run_funcs_and_stages()


@pytest.fixture(scope="module")
def emitted_6_18():
    """Run the 6.18 model on every scenario (both isolation modes, with and without a fatal
    signal, the scenario's busy pages) and collect what it emits."""
    funcs, stages = set(), set()
    for sc in SCENARIOS.values():
        for acr in (k618.ACR_FLAGS_NONE, k618.ACR_FLAGS_CMA):
            for fatal in (None, 1):
                z = sc.zone()
                r = k618.alloc_contig_range(z, sc.start, sc.end, acr, fatal_signal_at=fatal,
                                            busy_pfns=sc.options.get("busy_pfns") or ())
                funcs |= {e.func for e in r.events}
                stages |= {e.stage for e in r.events}
    return funcs, stages


def test_scan_finds_the_emit_calls():
    # the scan itself must see the names the brief lists, or it proves nothing
    names = _scanned_funcs()
    for f in ("pfn_max_align", "set_migratetype_isolate", "start_isolate_page_range",
              "isolate_migratepages_range", "reclaim_clean_pages_from_list", "migrate_pages",
              "lru_add_drain_all", "drain_all_pages", "outer_start", "test_pages_isolated",
              "isolate_freepages_range", "free_contig_range", "unset_migratetype_isolate",
              "alloc_contig_range", "pr_info", "fatal_signal_pending"):
        assert f in names


def test_every_emitted_name_has_an_entry(emitted):
    funcs, _stages = emitted
    names = _scanned_funcs() | funcs
    missing = sorted(n for n in names if n not in source.FUNCTIONS)
    assert not missing, f"no v4.4 source entry for {missing}"
    # the runs reach the failure paths too
    assert {"fatal_signal_pending", "__alloc_contig_migrate_range", "pr_info",
            "putback_movable_pages", "unset_migratetype_isolate"} <= funcs


def test_every_stage_has_an_entry(emitted):
    _funcs, stages = emitted
    assert stages <= set(source.STAGES), sorted(stages - set(source.STAGES))
    assert {"align", "isolate", "migrate", "drain", "outer_start", "test", "grab",
            "free_excess", "undo", "done"} <= stages


def test_scan_finds_the_6_18_emit_calls():
    names = _scanned_funcs("6.18")
    for f in ("isolate_single_pageblock", "find_large_buddy", "lru_cache_disable",
              "lru_cache_enable", "split_free_pages", "prep_new_page", "alloc_contig_range",
              "set_migratetype_isolate", "test_pages_isolated", "free_contig_range"):
        assert f in names
    assert "pfn_max_align" not in names and "pr_info" not in names   # 4.4 only


def test_every_6_18_emitted_name_has_a_6_18_entry(emitted_6_18):
    funcs, _stages = emitted_6_18
    names = _scanned_funcs("6.18") | funcs
    missing = sorted(n for n in names if n not in source.FUNCTIONS_6_18)
    assert not missing, f"no v6.18 source entry for {missing}"
    # the runs reach the shared v4.4 code and the failure paths too
    assert {"drain_all_pages", "fatal_signal_pending", "putback_movable_pages",
            "unset_migratetype_isolate", "lru_cache_disable"} <= funcs


def test_every_6_18_stage_has_an_entry(emitted_6_18):
    _funcs, stages = emitted_6_18
    assert stages <= set(source.STAGES_6_18), sorted(stages - set(source.STAGES_6_18))
    assert {"isolate", "migrate", "test", "grab", "undo"} <= stages


def test_where_takes_the_kernel():
    assert source.where("test_pages_isolated") == source.where("test_pages_isolated", "4.4")
    assert source.where("test_pages_isolated", kernel="v4.4").version == "v4.4"
    ref = source.where("test_pages_isolated", kernel="6.18")
    assert ref == source.where("test_pages_isolated", "v6.18") and ref.version == "v6.18"
    assert ref.url.startswith("https://elixir.bootlin.com/linux/v6.18/source/mm/page_isolation.c#L")
    assert ref.line != source.where("test_pages_isolated").line
    # a 6.18-only function has no v4.4 entry, and a 4.4-only one no 6.18 entry
    assert source.where("isolate_single_pageblock", "6.18").file == "mm/page_isolation.c"
    with pytest.raises(ValueError, match=r"v4\.4 source entry"):
        source.where("isolate_single_pageblock")
    with pytest.raises(ValueError, match=r"v6\.18 source entry"):
        source.where("pfn_max_align", "6.18")
    with pytest.raises(ValueError, match=r"kernel.*'5\.10'"):
        source.where("test_pages_isolated", kernel="5.10")
    with pytest.raises(ValueError, match="kernel"):
        source.stage_ref("test", kernel=6.18)
    assert source.stage_ref("test", "6.18").function == "alloc_contig_range_noprof"


def _all_refs():
    for table in (source.FUNCTIONS, source.STAGES, source.CONTRACT, source.CALLERS, source.CMA):
        yield from table.items()


def _all_refs_6_18():
    for table in (source.FUNCTIONS_6_18, source.STAGES_6_18):
        yield from table.items()


@pytest.mark.parametrize(("key", "ref"), list(_all_refs_6_18()),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_urls_are_elixir_v6_18(key, ref):
    u = urlsplit(ref.url)
    assert (u.scheme, u.netloc) == ("https", "elixir.bootlin.com")
    assert u.path == f"/linux/v6.18/source/{ref.file}"
    assert u.fragment == f"L{ref.line}"
    assert re.fullmatch(r"(mm|include/linux)/[a-z_]+\.[ch]", ref.file), ref.file
    assert ref.line > 0 and ref.function and ref.what


@pytest.mark.parametrize(("key", "ref"), list(_all_refs()),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_urls_are_elixir_v4_4(key, ref):
    u = urlsplit(ref.url)
    assert (u.scheme, u.netloc) == ("https", "elixir.bootlin.com")
    assert u.path == f"/linux/v4.4/source/{ref.file}"
    assert u.fragment == f"L{ref.line}"
    assert re.fullmatch(r"(mm|include/linux|lib|drivers/base)/[a-z_-]+\.[ch]", ref.file), ref.file
    assert ref.line > 0 and ref.function and ref.what
    assert str(ref) == f"{ref.file}:{ref.line} {ref.function}()"


def test_where_and_event_source():
    r = alloc_contig_range(SCENARIOS["pinned"].zone(), SCENARIOS["pinned"].start,
                           SCENARIOS["pinned"].end)
    ev = r.events.by_func("test_pages_isolated")[0]
    assert ev.source == source.where("test_pages_isolated") == source.for_event(ev)
    assert ev.source.file == "mm/page_isolation.c"
    # the outer_start probes point inside alloc_contig_range(), not at a function of their own
    probe = r.events.by_func("outer_start")[0]
    assert probe.source.function == "alloc_contig_range"
    assert probe.source.line > source.where("alloc_contig_range").line


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="no_such_function"):
        source.where("no_such_function")
    with pytest.raises(ValueError, match="42"):
        source.where(42)
    with pytest.raises(ValueError, match="nowhere"):
        source.stage_ref("nowhere")
    with pytest.raises(ValueError, match="line"):
        source.url("mm/page_alloc.c", 0)
    with pytest.raises(ValueError, match="file"):
        source.url("/etc/passwd", 3)


def test_link_html_names_function_and_stage():
    r = alloc_contig_range(SCENARIOS["fragmented"].zone(), SCENARIOS["fragmented"].start,
                           SCENARIOS["fragmented"].end)
    ev = r.events.by_func("set_migratetype_isolate")[0]
    h = source.link_html(ev)
    assert "https://elixir.bootlin.com/linux/v4.4/source/mm/page_isolation.c#L" in h
    assert "set_migratetype_isolate()" in h
    assert "stage isolate" in h and "mm/page_alloc.c#L" in h
    assert source.link_markdown(ev).startswith("[`set_migratetype_isolate()`](https://")


def test_line_numbers_point_at_the_function_in_vanilla_v4_4():
    """Read each line from a vanilla v4.4 tree when one is mirrored on this machine.

    The line of a FUNCTIONS entry that names a kernel function must carry its
    name; a STAGES entry's line lies inside alloc_contig_range() and names
    what the stage calls.
    """
    trees = [Path("/work/.mirror/siyual-park+linux-4.4.0.osta/repo"),
             Path("/work/.mirror/zanpocc+linux-4.4.1/repo")]
    repo = next((t for t in trees if t.exists()), None)
    if repo is None:
        pytest.skip("no vanilla v4.4 tree mirrored here")
    cache: dict[str, list[str]] = {}

    def line(ref):
        if ref.file not in cache:
            text = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{ref.file}"],
                                  capture_output=True, text=True, check=True).stdout
            cache[ref.file] = text.splitlines()
        return cache[ref.file][ref.line - 1]

    inside = {"drains_done": "lru_add_drain_all", "outer_start": "PageBuddy",
              "pr_info": "PFNs busy", "fatal_signal_pending": "fatal_signal_pending"}
    for name, ref in source.FUNCTIONS.items():
        assert inside.get(name, ref.function) in line(ref), (name, line(ref))
    calls = {"align": "pfn_max_align_down", "isolate": "start_isolate_page_range",
             "migrate": "__alloc_contig_migrate_range", "drain": "lru_add_drain_all",
             "outer_start": "outer_start", "test": "test_pages_isolated",
             "grab": "isolate_freepages_range", "free_excess": "outer_start",
             "undo": "done:", "done": "return ret"}
    for st, ref in source.STAGES.items():
        assert calls[st] in line(ref), (st, line(ref))
    says = {"kernel-doc": "alloc_contig_range", "compact_control": "compact_control",
            "struct compact_control": "compact_control", "MIGRATE_SYNC": "MIGRATE_SYNC",
            "MIGRATE_SYNC in migrate_pages": "MIGRATE_SYNC", "ignore_skip_hint": "ignore_skip_hint",
            "has_unmovable_pages": "has_unmovable_pages", "zone": "page_zone",
            "cma_alloc": "cma_alloc", "cma_alloc call": "alloc_contig_range",
            "cma_activate_area": "cma_activate_area", "alloc_gigantic_page": "alloc_gigantic_page",
            "__alloc_gigantic_page": "alloc_contig_range", "__offline_pages": "__offline_pages",
            "__offline_pages isolate": "start_isolate_page_range"}
    for key, ref in list(source.CALLERS.items()) + list(source.CONTRACT.items()):
        assert says[key] in line(ref), (key, line(ref))


def test_line_numbers_point_at_the_function_in_linux_6_18():
    """Read each 6.18 entry's line from Linux 6.18.2 (the mirrored tree, else the mm/ files on
    disk): a FUNCTIONS_6_18 line carries its function's name (fatal_signal_pending: the check
    inside __alloc_contig_migrate_range()); a STAGES_6_18 line lies inside
    alloc_contig_range_noprof() and names what the stage calls."""
    repo = Path("/work/.mirror/gfunkmonk+linux-6.18.2/repo")
    disk = Path("/work/src/linux-6.18")
    if not repo.exists() and not disk.exists():
        pytest.skip("no Linux 6.18 tree here")
    cache: dict[str, list[str]] = {}

    def text(file: str) -> list[str]:
        if file not in cache:
            if repo.exists():
                cache[file] = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{file}"],
                                             capture_output=True, text=True,
                                             check=True).stdout.splitlines()
            elif (disk / file).exists():
                cache[file] = (disk / file).read_text(encoding="utf-8").splitlines()
            else:
                pytest.skip(f"{file} is not on disk")
        return cache[file]

    def line(ref):
        return text(ref.file)[ref.line - 1]

    checked = 0
    for name, ref in source.FUNCTIONS_6_18.items():
        want = "fatal_signal_pending" if name == "fatal_signal_pending" else ref.function
        assert want in line(ref), (name, line(ref))
        checked += 1
    start = source.where("alloc_contig_range", "6.18").line
    end = start + next(i for i, x in enumerate(text("mm/page_alloc.c")[start:]) if x == "}")
    calls = {"isolate": "start_isolate_page_range", "drain": "drain_all_pages",
             "migrate": "__alloc_contig_migrate_range", "outer_start": "find_large_buddy",
             "test": "test_pages_isolated", "grab": "isolate_freepages_range",
             "free_excess": "outer_start", "undo": "undo_isolate_page_range",
             "done": "return ret"}
    for st, ref in source.STAGES_6_18.items():
        assert start < ref.line <= end + 1, (st, ref.line)
        assert calls[st] in line(ref), (st, line(ref))
    assert checked == len(source.FUNCTIONS_6_18)


def test_step_player_links_the_current_event():
    pytest.importorskip("ipywidgets")
    from contig.viz import StepPlayer

    player = StepPlayer(SCENARIOS["fragmented"].zone(), SCENARIOS["fragmented"].start,
                        SCENARIOS["fragmented"].end)
    for i in (0, len(player.trace) // 2, len(player.trace) - 1):
        player.step_to(i)
        ref = source.for_event(player.trace[i])
        assert f'href="{ref.url}"' in player.why.value
        assert f"{ref.function}()" in player.why.value


def test_notebook_links_to_v4_4_lines_are_known_entries():
    """Every Elixir line link in the course names a line contig.source vouches for.

    (The entries' lines are checked against a v4.4 tree above, so a link typed
    by hand into a notebook cannot point at a wrong line unnoticed.)
    """
    import json

    known = {ref.url for _k, ref in _all_refs()}
    link = re.compile(r"https://elixir\.bootlin\.com/linux/v4\.4/source/[\w./-]+#L\d+")
    seen = 0
    for nb in sorted((PKG.parent / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] != "markdown":
                continue
            for u in link.findall("".join(cell["source"])):
                seen += 1
                assert u in known, f"{nb.name}: {u} is not an entry of contig.source"
    assert seen >= 30
