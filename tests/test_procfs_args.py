"""Bad arguments to contig.procfs are refused at the door (issue 12, section 3).

Every public function answers a wrong type with TypeError and a wrong value
with ValueError, and the message names the argument and the value.  A
snapshot file is checked (array headers, lengths, dtypes, meta fields, size)
before anything is decompressed.
"""

from __future__ import annotations

import io
import json
import re
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from contig import Geometry, Zone, procfs
from contig.procfs import (
    DEFAULT_MAX_PFNS,
    KPF,
    capture_snapshot,
    classify_kpageflags,
    data_path,
    format_buddyinfo,
    format_buddyinfo_line,
    format_pagetypeinfo,
    load_kpageflags,
    pagetypeinfo_blockcount,
    parse_buddyinfo,
    parse_iomem,
    parse_pagetypeinfo,
    parse_zoneinfo,
    render_buddyinfo,
    render_pagetypeinfo,
)

BUDDY = "Node 0, zone      DMA      0      1      3 \n"
IOMEM = "00001000-0009fbff : System RAM\n00100000-3fffffff : System RAM\n"


def refused(exc_type, name, value, fn, *args, **kwargs):
    """fn(*args, **kwargs) raises exc_type naming ``name`` and ``value``."""
    with pytest.raises(exc_type) as exc:
        fn(*args, **kwargs)
    msg = str(exc.value)
    assert name in msg, msg
    assert repr(value) in msg or str(value) in msg, msg
    assert "\n" not in msg
    return msg


def text_of(name):
    return data_path(name).read_text()


# ----------------------------------------------------------------- node=


PARSERS = [(parse_buddyinfo, "buddyinfo.txt"), (parse_pagetypeinfo, "pagetypeinfo.txt"),
           (parse_zoneinfo, "zoneinfo.txt")]


@pytest.mark.parametrize(("parser", "file"), PARSERS, ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize(("node", "exc"), [("x", TypeError), ("0", TypeError),
                                           (True, TypeError), (False, TypeError),
                                           (0.0, TypeError), (1.5, TypeError),
                                           (-1, ValueError)])
def test_parsers_refuse_bad_node(parser, file, node, exc):
    msg = refused(exc, "node", node, parser, text_of(file), node=node)
    assert parser.__name__ in msg


@pytest.mark.parametrize("parser", [parse_buddyinfo, parse_pagetypeinfo, parse_zoneinfo,
                                    parse_iomem], ids=lambda f: f.__name__)
@pytest.mark.parametrize("text", [b"Node 0, zone DMA 1\n", None, 5, ["a"]])
def test_parsers_refuse_text_that_is_not_str(parser, text):
    refused(TypeError, "text", text, parser, text)


@pytest.mark.parametrize(("parser", "file"), PARSERS, ids=lambda x: getattr(x, "__name__", x))
def test_parsers_accept_numpy_node(parser, file):
    assert parser(text_of(file), node=np.int64(0)) == parser(text_of(file), node=0)


# ----------------------------------------------------------------- page_size=


@pytest.mark.parametrize(("page_size", "exc"), [(0, ValueError), (-4096, ValueError),
                                                (3000, ValueError), (4097, ValueError),
                                                (1.5, TypeError), (4096.0, TypeError),
                                                ("4096", TypeError), (True, TypeError),
                                                (None, TypeError)])
def test_parse_iomem_refuses_bad_page_size(page_size, exc):
    refused(exc, "page_size", page_size, parse_iomem, IOMEM, page_size=page_size)


def test_parse_iomem_other_page_size():
    # 8 KiB pages: [0x1000, 0x9fbff] holds whole pages 1..78 (0x2000 .. 0x9dfff;
    # page 79 would end at 0x9ffff); [0x100000, 0x3fffffff] is pages 128..131071
    assert parse_iomem(IOMEM, page_size=8192) == [(1, 79), (128, 131072)]
    assert parse_iomem(IOMEM, page_size=np.int32(4096)) == parse_iomem(IOMEM)


# ----------------------------------------------------------------- classify_kpageflags


FLAGS = np.full(64, 1 << KPF["BUDDY"], dtype=np.uint64)
RAM = [(0, 64)]


@pytest.mark.parametrize(("section_pages", "exc"), [(0, ValueError), (-32768, ValueError),
                                                    (3, ValueError), (True, TypeError),
                                                    (1.0, TypeError), (32768.0, TypeError)])
def test_classify_refuses_bad_section_pages(section_pages, exc):
    refused(exc, "section_pages", section_pages, classify_kpageflags, FLAGS, 0, RAM,
            section_pages=section_pages)


@pytest.mark.parametrize(("bits", "exc", "shown"), [
    ({"LRU": 99}, ValueError, 99), ({"LRU": 64}, ValueError, 64),
    ({"BUDDY": -1}, ValueError, -1), ({"LRU": 5.0}, TypeError, 5.0),
    ({"LRU": True}, TypeError, True), ({"LRU": "5"}, TypeError, "5"),
    ({7: 5}, TypeError, 7), ([("LRU", 5)], TypeError, "LRU")])
def test_classify_refuses_bad_kpf_bits(bits, exc, shown):
    refused(exc, "kpf_bits", shown, classify_kpageflags, FLAGS, 0, RAM, kpf_bits=bits)


def test_classify_accepts_a_moved_bit_up_to_63():
    # BUDDY moved to bit 63: the pages flagged there are free, bit 10 means nothing
    flags = np.full(4, np.uint64(1) << np.uint64(63), dtype=np.uint64)
    flags[2:] = 1 << KPF["BUDDY"]
    kinds, _, _ = classify_kpageflags(flags, 0, [(0, 4)], kpf_bits={"BUDDY": 63})
    assert kinds.tobytes() == b"..UU"


@pytest.mark.parametrize(("start", "exc"), [(-1, ValueError), (True, TypeError),
                                            (1.0, TypeError), ("0", TypeError),
                                            (2**52 + 1, ValueError), (2**52 - 63, ValueError),
                                            (2**70, ValueError)])
def test_classify_refuses_bad_start_pfn(start, exc):
    refused(exc, "start_pfn", start, classify_kpageflags, FLAGS, start, RAM)


def test_classify_refuses_bad_pageblock_order_and_ram():
    refused(ValueError, "pageblock_order", 21, classify_kpageflags, FLAGS, 0, RAM,
            pageblock_order=21)
    refused(TypeError, "pageblock_order", True, classify_kpageflags, FLAGS, 0, RAM,
            pageblock_order=True)
    refused(ValueError, "system_ram[0]", (9, 2), classify_kpageflags, FLAGS, 0, [(9, 2)])
    refused(TypeError, "system_ram[0] start", 1.5, classify_kpageflags, FLAGS, 0, [(1.5, 9)])
    refused(TypeError, "system_ram", "0-64", classify_kpageflags, FLAGS, 0, "0-64")
    refused(TypeError, "system_ram[0]", (1, 2, 3), classify_kpageflags, FLAGS, 0, [(1, 2, 3)])
    # a (N, 2) integer array is a list of pairs
    a, _, _ = classify_kpageflags(FLAGS, 0, np.array([[0, 32]]))
    assert a.tobytes() == b"." * 32 + b"#" * 32


# ----------------------------------------------------------------- load_kpageflags


def snapshot_bytes(flags, start=0, meta=None, **extra) -> bytes:
    meta = {"zone": {"zone": "Normal"}, "pageblock_order": 2, "max_page_order": 3,
            "system_ram": [[start, start + len(flags)]]} if meta is None else meta
    arrays = {"flags": flags, "start_pfn": np.array([start], dtype=np.int64),
              "meta": np.array(json.dumps(meta)),
              "mapcount": np.zeros(len(flags), dtype=np.uint16), **extra}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def write(tmp_path, data, name="s.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


SMALL = np.full(16, 1 << KPF["BUDDY"], dtype=np.uint64)


def test_small_synthetic_snapshot_loads(tmp_path):
    z = load_kpageflags(write(tmp_path, snapshot_bytes(SMALL, 8)))
    assert (z.start_pfn, z.end_pfn, z.to_map()) == (8, 24, "." * 16)
    assert z.geometry == Geometry(4, 2)


def huge_zero_snapshot(npfns: int) -> bytes:
    """An .npz declaring ``npfns`` all-zero flags: tiny on disk (deflate), huge loaded."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<u8", "fortran_order": False, "shape": (npfns,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("flags.npy", "w", force_zip64=True) as fh:
            fh.write(header.getvalue())
            chunk = bytes(1 << 22)
            left = npfns * 8
            while left:
                fh.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
        for name, arr in (("start_pfn", np.array([0], dtype=np.int64)),
                          ("meta", np.array(json.dumps({"system_ram": [[0, npfns]]})))):
            with zf.open(f"{name}.npy", "w") as fh:
                np.lib.format.write_array(fh, arr)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    data = huge_zero_snapshot(1 << 25)       # 33.5M PFNs: 128 GiB of memory, 256 MiB of flags
    assert len(data) < 400 * 1024            # the "256 KiB file"
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    path.write_bytes(data)
    return path


def test_load_refuses_a_huge_zone_before_decompressing(bomb):
    assert DEFAULT_MAX_PFNS == 1 << 24
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ValueError, match="max_pfns") as exc:
            load_kpageflags(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(exc.value)
    assert "33554432 PFNs" in msg and f"max_pfns={1 << 24}" in msg
    assert "max_pfns=33554432" in msg       # how to raise it
    assert peak < 16 << 20, f"allocated {peak} bytes before refusing"
    assert time.perf_counter() - t0 < 2


def test_load_max_pfns_is_a_keyword_with_checks(tmp_path):
    path = write(tmp_path, snapshot_bytes(SMALL))
    msg = refused(ValueError, "max_pfns", 15, load_kpageflags, path, max_pfns=15)
    assert "16 PFNs" in msg
    assert load_kpageflags(path, max_pfns=16).spanned_pages == 16
    refused(ValueError, "max_pfns", 0, load_kpageflags, path, max_pfns=0)
    refused(TypeError, "max_pfns", True, load_kpageflags, path, max_pfns=True)
    refused(TypeError, "max_pfns", 1e9, load_kpageflags, path, max_pfns=1e9)


def test_shipped_snapshots_fit_the_default_cap():
    for name in ("linux-6.18-DMA32.npz", "linux-6.18-Normal.npz"):
        with np.load(data_path(name)) as npz:
            n = npz["flags"].size
            meta = json.loads(str(npz["meta"][()]))
        assert n <= DEFAULT_MAX_PFNS
        assert meta["zone"]["end_pfn"] <= DEFAULT_MAX_PFNS   # the whole node, too


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"flags": SMALL.astype(np.int64)}, "flags must be a 1-D uint64"),
    ({"flags": SMALL.reshape(4, 4)}, "flags must be a 1-D uint64"),
    ({"flags": SMALL[:0]}, "flags is empty"),
    ({"mapcount": np.zeros(15, dtype=np.uint16)}, "mapcount must be 16 integers"),
    ({"mapcount": np.zeros(16, dtype=np.float32)}, "mapcount must be 16 integers"),
    ({"start_pfn": np.array([1.0])}, "start_pfn must be an integer array"),
    ({"start_pfn": np.array([1, 2])}, "start_pfn must be an integer array"),
    ({"start_pfn": np.array([-8])}, "start_pfn -8 is negative"),
    ({"start_pfn": np.array([2**52 - 8])}, "beyond 2**52"),
    ({"meta": {"pageblock_order": "9"}}, "meta['pageblock_order'] must be an int"),
    ({"meta": {"pageblock_order": 9.5}}, "meta['pageblock_order'] must be an int"),
    ({"meta": {"max_page_order": True}}, "meta['max_page_order'] must be an int"),
    ({"meta": {"kpf_bits": {"LRU": 99}}}, "kpf_bits['LRU'] must be in 0..63, not 99"),
    ({"meta": {"system_ram": [[0.5, 16]]}}, "system_ram'][0] start must be"),
    ({"meta": {"system_ram": [[16, 0]]}}, "ends below its start"),
    ({"meta": {"zone": {"zone": 3}}}, "must be a zone name"),
    ({"meta": {"zone": {"spanned": 99}}}, "meta['zone']['spanned'] is 99"),
    ({"meta": {"zone": {"start_pfn": 4}}}, "meta['zone']['start_pfn'] is 4"),
    ({"meta": {"zone": {"end_pfn": 4}}}, "meta['zone']['end_pfn'] is 4"),
    ({"meta": {"zone": []}}, "meta['zone'] must be an object"),
])
def test_load_refuses_inconsistent_snapshots(tmp_path, kwargs, needle):
    kwargs = dict(kwargs)
    flags = kwargs.pop("flags", SMALL)
    meta = {"system_ram": [[0, 16]], "pageblock_order": 2, "max_page_order": 3}
    meta.update(kwargs.pop("meta", {}))
    data = snapshot_bytes(flags, 0, meta, **kwargs)
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=re.escape(needle)) as exc:
        load_kpageflags(path)
    assert str(path) in str(exc.value)


def test_load_refuses_bad_arguments(tmp_path):
    path = write(tmp_path, snapshot_bytes(SMALL))
    refused(TypeError, "path", 3, load_kpageflags, 3)        # np.load(3) reads fd 3
    refused(TypeError, "path", True, load_kpageflags, True)
    refused(TypeError, "geometry", "4,2", load_kpageflags, path, geometry="4,2")
    refused(TypeError, "iomem", b"x", load_kpageflags, path, iomem=b"x")
    npy = tmp_path / "a.npy"
    np.save(npy, SMALL)
    with pytest.raises(ValueError, match="not a kpageflags snapshot"):
        load_kpageflags(npy)
    garbage = write(tmp_path, b"not a zip at all", "g.npz")
    with pytest.raises(ValueError, match="not a kpageflags snapshot"):
        load_kpageflags(garbage)


# ----------------------------------------------------------------- printing and the rest


def test_format_functions_refuse_bad_arguments():
    refused(TypeError, "node", True, format_buddyinfo_line, True, "DMA", [1])
    refused(ValueError, "node", -1, format_buddyinfo_line, -1, "DMA", [1])
    refused(TypeError, "counts[1]", 1.5, format_buddyinfo_line, 0, "DMA", [1, 1.5])
    refused(TypeError, "counts[0]", -1.0, format_buddyinfo_line, 0, "DMA", [-1.0])
    refused(ValueError, "counts[0]", -1, format_buddyinfo_line, 0, "DMA", [-1])
    refused(TypeError, "counts", "123", format_buddyinfo_line, 0, "DMA", "123")
    refused(ValueError, "zone_name", "DMA 32", format_buddyinfo_line, 0, "DMA 32", [1])
    refused(TypeError, "zone_name", 32, format_buddyinfo_line, 0, 32, [1])
    refused(TypeError, "zones", ["DMA"], format_buddyinfo, ["DMA"])
    refused(TypeError, "node", "0", format_buddyinfo, {"DMA": [1]}, node="0")
    assert format_buddyinfo_line(np.int64(0), "DMA", np.array([0, 1, 3])) == BUDDY


def test_format_pagetypeinfo_refuses_bad_info():
    info = parse_pagetypeinfo(text_of("pagetypeinfo.txt"))
    refused(TypeError, "node", "x", format_pagetypeinfo, info, node="x")
    refused(TypeError, "page_block_order", 9.0, format_pagetypeinfo,
            {**info, "page_block_order": 9.0})
    refused(ValueError, "pages_per_block", 0, format_pagetypeinfo,
            {**info, "pages_per_block": 0})
    short = {z: dict(t) for z, t in info["free"].items()}
    short["DMA"]["Movable"] = short["DMA"]["Movable"][:3]
    refused(ValueError, "info['free']['DMA']['Movable']", 3, format_pagetypeinfo,
            {**info, "free": short})
    blocks = {z: dict(t) for z, t in info["blocks"].items()}
    del blocks["Normal"]["Isolate"]
    refused(ValueError, "info['blocks']['Normal']", "Isolate", format_pagetypeinfo,
            {**info, "blocks": blocks})
    with pytest.raises(ValueError, match="has no 'free' key"):
        format_pagetypeinfo({"page_block_order": 9})


def test_render_functions_refuse_bad_arguments():
    z = Zone.from_map("..M.", geometry=Geometry(3, 1), name="DMA")
    refused(TypeError, "zone", "nope", render_buddyinfo, "nope")
    refused(TypeError, "zone", None, render_pagetypeinfo, None)
    refused(TypeError, "zone", 5, pagetypeinfo_blockcount, 5)
    refused(TypeError, "node", "x", render_buddyinfo, z, node="x")
    refused(TypeError, "node", True, render_pagetypeinfo, z, node=True)
    refused(TypeError, "types", "Movable", render_pagetypeinfo, z, types="Movable")
    refused(TypeError, "types", 3, render_pagetypeinfo, z, types=["Movable", 3])
    refused(TypeError, "node", "1", z.buddyinfo, "1")


def test_data_path_refuses_paths():
    refused(ValueError, "name", "../cli.py", data_path, "../cli.py")
    refused(ValueError, "name", "..", data_path, "..")
    refused(TypeError, "name", 3, data_path, 3)


def test_capture_snapshot_refuses_bad_arguments(tmp_path):
    out = tmp_path / "s.npz"
    refused(TypeError, "node", "x", capture_snapshot, "Normal", out, node="x",
            proc_root=tmp_path)
    refused(ValueError, "node", -1, capture_snapshot, "Normal", out, node=-1,
            proc_root=tmp_path)
    refused(ValueError, "chunk_pages", 0, capture_snapshot, "Normal", out, chunk_pages=0,
            proc_root=tmp_path)
    refused(TypeError, "zone_name", 5, capture_snapshot, 5, out, proc_root=tmp_path)
    refused(TypeError, "out_path", 3, capture_snapshot, "Normal", 3, proc_root=tmp_path)
    refused(TypeError, "proc_root", 0, capture_snapshot, "Normal", out, proc_root=0)
    assert not out.exists()


def test_capture_snapshot_refuses_negative_start_in_zoneinfo(tmp_path):
    (tmp_path / "zoneinfo").write_text("Node 0, zone   Normal\n  pages free 0\n"
                                       "        spanned  16\n        present  16\n"
                                       "        managed  16\n  start_pfn:  -8\n")
    (tmp_path / "iomem").write_text("00000000-0000ffff : System RAM\n")
    with pytest.raises(ValueError, match="start_pfn -8"):
        capture_snapshot("Normal", tmp_path / "s.npz", proc_root=tmp_path)


def test_module_exports_still_import():
    assert procfs.PFN_LIMIT == 2**52
