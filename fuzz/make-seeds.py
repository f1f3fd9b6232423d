#!/usr/bin/env python3
"""Writes the hand-made seed corpus: fuzz/corpus/<target>/seed-*.

Each encoder below mirrors the decoder in `<crate>/src/fuzzing.rs`, which
reads the bytes with `arbitrary::Unstructured`: `int_in_range(a..=b)`
takes as many big-endian bytes as `b - a` needs and reduces them modulo
`b - a + 1`; `arbitrary::<u8>()` takes one byte. Seeds are ordinary fuzz
inputs: the fuzzer mutates them, and `tests/fuzz_replay.rs` replays them.

Usage: fuzz/make-seeds.py   (rewrites the seed-* files; safe to rerun)
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(bytes(data))


# ---------------------------------------------------------------- swapmap_ops
# shape: slots-2 (mod 39), cluster index into [2,4,8,512], continuation limit
# op: kind (mod 32), target tag (mod 16: 0-11 Used(next byte), 12-14 Raw in
# range (next byte), 15 Raw(u64)), DuplicateMany: count-1 as u16 big-endian.
SM_KIND = dict(alloc=0, dup=6, dupmany=10, dupsingle=11, prepare=12, clear=15,
               free=19, syncacq=25, syncrel=27, syncrelfree=29, markbad=30)


def sm_shape(slots, cluster, limit):
    return [slots - 2, [2, 4, 8, 512].index(cluster), limit]


def sm(kind, used=0, raw=None, n=None):
    out = [SM_KIND[kind]]
    if raw is None:
        out += [0, used]
    elif raw == "far":
        out += [15] + list(struct.pack("<Q", 2**64 - 1))
    else:
        out += [12, raw]
    if kind == "dupmany":
        out += list(struct.pack(">H", n - 1))
    return out


def swapmap_seeds():
    t = "swapmap_ops"
    write(t, "alloc-free", sm_shape(9, 4, 1)
          + sum([sm("alloc") for _ in range(10)], [])
          + sum([sm("dup", used=i) + sm("clear", used=i) for i in range(8)], [])
          + sum([sm("free", used=0) for _ in range(9)], []))
    write(t, "continuation-overflow", sm_shape(6, 2, 1)
          + sm("alloc") + sm("dupmany", used=0, n=130) + sm("dup", used=0)
          + sm("free", used=0) + sm("dupmany", used=0, n=300)
          + sm("alloc") + sm("dupmany", used=1, n=63) + sm("free", used=1))
    write(t, "continuation-limit-0", sm_shape(4, 2, 0)
          + sm("alloc") + sm("dupmany", used=0, n=70) + sm("free", used=0)
          + sm("dup", used=0))
    write(t, "sync-lifecycle", sm_shape(8, 2, 2)
          + sm("alloc") + sm("dup", used=0) + sm("clear", used=0)
          + sm("syncacq", used=0) + sm("prepare", used=0) + sm("free", used=0)
          + sm("syncrel", used=0) + sm("alloc") + sm("dup", used=0)
          + sm("clear", used=0) + sm("syncacq", used=0) + sm("syncrel", used=0)
          + sm("syncacq", used=0) + sm("syncrelfree", used=0)
          + sm("dupsingle", used=0))
    write(t, "raw-bad-out-of-range", sm_shape(5, 512, 3)
          + sm("markbad", raw=3) + sm("markbad", raw=3) + sm("alloc")
          + sm("alloc") + sm("alloc") + sm("alloc") + sm("free", raw=6)
          + sm("dup", raw="far") + sm("prepare", raw=0) + sm("markbad", used=1))
    write(t, "exhaust", sm_shape(2, 2, 1) + sm("alloc") + sm("alloc")
          + sm("dup", used=0) + sm("prepare", used=0) + sm("clear", used=0)
          + sm("free", used=0) + sm("alloc"))


# ------------------------------------------------------------ zswap (both)
# page: kind (mod 7): 0-3 content class + u16 LE seed; 4 same-filled (word
# kind mod 4, then a byte or u64 LE); 5-6 input bytes at u16 LE offset.
def pg_class(k, seed):
    return [k] + list(struct.pack("<H", seed))


def pg_same(kind, extra=()):
    return [4, kind] + list(extra)


def pg_bytes(at, data):
    return [5] + list(struct.pack("<H", at)) + [len(data)] + list(data)


LZ4, LZ4FLEX, DEFLATE = 0, 1, 2


def lz4_zero_page():
    # One zero literal, a match of 4090 at offset 1, five zero literals.
    ml = 4090 - 4 - 15
    return bytes([0x1F, 0x00, 0x01, 0x00] + [255] * (ml // 255) + [ml % 255]
                 + [0x50] + [0] * 5)


def zswap_decompress_seeds():
    import random
    import zlib
    t = "zswap_decompress"
    # raw: backend, offset index, ratio byte 0 => raw, then the payload.
    write(t, "raw-empty-lz4", [LZ4, 0, 0])
    write(t, "raw-lz4-zero-page", [LZ4, 1, 0] + list(lz4_zero_page()))
    write(t, "raw-lz4flex-zero-page-truncated",
          [LZ4FLEX, 3, 0] + list(lz4_zero_page()[:-3]))
    text = b"".join(b"do_swap_page: pte changed under us, retry at %d\n" % i
                    for i in range(200))[:4096]
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    write(t, "raw-deflate-text", [DEFLATE, 2, 0] + list(c.compress(text) + c.flush()))
    rnd = random.Random(8)
    write(t, "raw-lz4flex-large", [LZ4FLEX, 4, 0]
          + [rnd.randrange(256) for _ in range(8300)])
    # compressed page: ratio byte 1, page, mutation (0 none, 1 flip at u16
    # BE + xor byte, 2 truncate at u16 BE, 3 append the rest, 4 splice).
    for b, name in [(LZ4, "lz4"), (LZ4FLEX, "lz4flex"), (DEFLATE, "deflate")]:
        write(t, "page-text-" + name, [b, 0, 1] + pg_class(1, 7) + [0])
        write(t, "page-zerotail-flip-" + name, [b, 1, 1] + pg_class(0, 3)
              + [1, 0, 9, 0x40])
    write(t, "page-halfrandom-truncate-lz4", [LZ4, 0, 1] + pg_class(2, 1)
          + [2, 0x04, 0x00])
    write(t, "page-bytes-append-deflate", [DEFLATE, 0, 1]
          + pg_bytes(100, b"zswap") + [3] + [0xFF] * 12)
    write(t, "page-same-splice-lz4flex", [LZ4FLEX, 0, 1] + pg_same(1)
          + [4, 0, 3, 4] + [0xF0, 0, 0xFF, 0xFF])


# zswap_ops config: slots index [8, R+8, 3R], backend, same-filled off if
# byte % 8 == 0, reject index [P, P, 2P, 1024, 64, 0], limit if byte even
# (then u16 BE mod 12001), accept index [90, 0, 50, 100], writeback if odd.
def zo_config(slots, backend, sf_off=False, reject=0, limit=None, accept=0, wb=False):
    out = [slots, backend, 0 if sf_off else 1, reject]
    out += [1] if limit is None else [0] + list(struct.pack(">H", limit))
    return out + [accept, 1 if wb else 0]


# offset: tag (mod 16: 0 last slot, 1 u64 LE, else region byte + slot byte)
def zo_off(region, slot):
    return [2, region, slot]


ZO_LAST = [0]
ZO_FAR = [1] + [0xFF] * 8


def zo_store(off, page):
    return [0] + off + page


def zo_load(off, exclusive=False):
    return [9 if exclusive else 6] + off


def zo_inval(off):
    return [12] + off


def zo_writeback(n):
    return [14, n]


ZO_INVAL_ALL = [15]


def zswap_ops_seeds():
    t = "zswap_ops"
    write(t, "round-trip-regions", zo_config(2, LZ4)
          + zo_store(zo_off(0, 1), pg_class(1, 1))
          + zo_store(zo_off(1, 2), pg_class(0, 5))
          + zo_store(zo_off(2, 7), pg_same(2, [0xAB]))
          + zo_store(ZO_LAST, pg_class(2, 9))
          + zo_load(zo_off(0, 1)) + zo_load(zo_off(1, 2), True)
          + zo_load(zo_off(1, 2)) + zo_store(zo_off(0, 1), pg_class(3, 2))
          + zo_load(zo_off(2, 7), True) + zo_inval(ZO_LAST)
          + zo_writeback(2) + zo_store(zo_off(0, 3), pg_bytes(8, b"swap"))
          + zo_load(zo_off(0, 3)) + ZO_INVAL_ALL + zo_load(zo_off(0, 3)))
    write(t, "pool-limit-writeback", zo_config(1, LZ4FLEX, limit=3000, accept=2, wb=True)
          + sum([zo_store(zo_off(i % 2, i), pg_class(1, i)) for i in range(8)], [])
          + zo_load(zo_off(1, 7)) + zo_load(zo_off(0, 0), True)
          + zo_store(zo_off(0, 6), pg_same(0)) + zo_writeback(4))
    write(t, "pool-limit-reject", zo_config(0, LZ4, limit=2000, accept=0)
          + sum([zo_store(zo_off(0, i), pg_class(1, i)) for i in range(6)], [])
          + zo_store(zo_off(0, 1), pg_class(1, 1)) + zo_writeback(1)
          + zo_store(zo_off(0, 2), pg_class(1, 2)) + zo_load(zo_off(0, 2)))
    write(t, "reject-poor-deflate", zo_config(0, DEFLATE, sf_off=True, reject=4)
          + zo_store(zo_off(0, 0), pg_same(0)) + zo_store(zo_off(0, 1), pg_class(3, 1))
          + zo_store(zo_off(0, 0), pg_class(2, 1)) + zo_load(zo_off(0, 0))
          + zo_writeback(3))
    write(t, "random-pages-large-reject-len", zo_config(2, LZ4, reject=2)
          + zo_store(zo_off(2, 0), pg_class(3, 4)) + zo_store(zo_off(1, 0), pg_class(3, 5))
          + zo_writeback(1) + zo_load(zo_off(1, 0), True))
    write(t, "out-of-range", zo_config(0, LZ4FLEX)
          + zo_store(zo_off(1, 0), pg_class(0, 1)) + zo_store(ZO_FAR, pg_class(0, 1))
          + zo_load(ZO_FAR) + zo_inval(zo_off(3, 7)) + zo_store(ZO_LAST, pg_class(0, 2))
          + zo_load(ZO_LAST, True))


# ---------------------------------------------------------------- xarray_ops
# first byte: keep a reader guard pinned if byte % 4 == 0. op kind (mod 21),
# index tag (mod 12): 0 small (mod 131), 3 n-th live key, 5 live key + d - 2,
# 7 FANOUT^(k+1) + d - 2, 9 u64::MAX - n, 10 u64 LE. Items: byte % 3 < 2 is
# a pointer, else a value (tag 0: byte, 1: MAX - n, 2: u64 LE & MAX).
def xi_small(n):
    return [0, n]


def xi_live(n, d=None):
    return [3, n] if d is None else [5, n, d + 2]


def xi_height(k, d=0):
    return [7, k - 1, d + 2]


def xi_top(n=0):
    return [9, n]


def xi_u64(v):
    return [10] + list(struct.pack("<Q", v))


XA_PTR = [0]


def xa_val(v):
    return [2, 0, v] if v < 256 else [2, 2] + list(struct.pack("<Q", v))


XA_VMAX = [2, 1, 0]


def xa(kind, *args):
    k = dict(load=0, insert=3, store=6, remove=9, remove_if=12, cmp=14, range=16,
             hold=18, flush=19, make_value=20)[kind]
    return [k] + sum(args, [])


def x_incl(i):
    return [0] + i


def x_excl(i):
    return [2] + i


X_UNB = [4]
PRED = dict(always=[0], never=[1], is_value=[2], is_ptr=[3], even=[4])
CMP_LOADED = [0, 0]   # LoadedFrom(the same index)
CMP_FRESH = [2]


def cmp_value(v):
    return [3, 0, v]


def xarray_seeds():
    t = "xarray_ops"
    write(t, "small-dense", [1]
          + sum([xa("insert", xi_small(i), XA_PTR if i % 2 else xa_val(i)) for i in range(70)], [])
          + xa("range", x_incl(xi_small(10)), x_excl(xi_small(64)))
          + sum([xa("remove", xi_small(i)) for i in range(0, 70, 3)], [])
          + xa("load", xi_small(5)) + xa("insert", xi_small(5), XA_PTR)
          + xa("store", xi_small(5), xa_val(7)) + xa("flush"))
    write(t, "heights-grow-shrink", [1]
          + xa("store", xi_small(0), XA_PTR)
          + sum([xa("store", xi_height(k, d), XA_PTR) for k in range(1, 11) for d in (-1, 0)], [])
          + xa("store", xi_top(), XA_VMAX) + xa("insert", xi_u64(2**63 + 12345), XA_PTR)
          + xa("range", x_excl(xi_height(3)), X_UNB)
          + xa("range", X_UNB, x_incl(xi_top(1)))
          + sum([xa("remove", xi_height(k, d)) for k in range(10, 0, -1) for d in (-1, 0)], [])
          + xa("remove", xi_top()) + xa("remove", xi_small(0)) + xa("flush")
          + xa("store", xi_height(5), XA_PTR))
    write(t, "compare-remove", [1]
          + sum([xa("insert", xi_small(i), XA_PTR) for i in range(4)], [])
          + xa("insert", xi_small(4), xa_val(9)) + xa("insert", xi_small(5), xa_val(9))
          + xa("cmp", xi_small(0), CMP_LOADED) + xa("cmp", xi_small(1), CMP_FRESH)
          + xa("cmp", xi_small(4), cmp_value(9)) + xa("cmp", xi_small(5), cmp_value(8))
          + xa("cmp", xi_small(2), [0, 3] + xi_small(3))
          + xa("cmp", xi_small(7), CMP_LOADED)
          + xa("remove_if", xi_small(1), PRED["is_value"])
          + xa("remove_if", xi_small(1), PRED["is_ptr"])
          + xa("remove_if", xi_small(5), PRED["even"])
          + xa("remove_if", xi_small(9), PRED["always"])
          + xa("remove_if", xi_small(3), PRED["never"]))
    write(t, "pinned-reader", [0]
          + sum([xa("insert", xi_small(i * 7), XA_PTR) for i in range(10)], [])
          + sum([xa("hold", xi_small(i * 7)) for i in range(10)], [])
          + sum([xa("store", xi_live(i), XA_PTR) + xa("flush") for i in range(10)], [])
          + sum([xa("remove", xi_live(0)) + xa("flush") for i in range(10)], []))
    write(t, "ranges-and-values", [2]
          + sum([xa("store", xi_live(i, 1), xa_val(i)) for i in range(12)], [])
          + xa("store", xi_u64(2**40), XA_VMAX) + xa("store", xi_u64(2**40 + 1), XA_PTR)
          + xa("range", x_incl(xi_small(5)), x_incl(xi_small(5)))
          + xa("range", x_excl(xi_small(5)), x_excl(xi_small(6)))
          + xa("range", x_incl(xi_small(9)), x_incl(xi_small(3)))
          + xa("range", x_excl(xi_top()), X_UNB)
          + xa("range", x_incl(xi_u64(2**40)), x_excl(xi_top()))
          + xa("make_value", list(struct.pack("<Q", 2**63)))
          + xa("make_value", list(struct.pack("<Q", 2**63 - 1))))


# ------------------------------------------------------------ fault_path_ops
STRATS = ["bypass", "pin-retry", "pin-sleep", "pin-waitqueue", "sync-map",
          "swap-count", "pte-marker", "swapcache"]


def fp_machine(strategy, slots, device, frames, cluster=512, readahead=8,
               zswap=None, pages=8, populated=(True,)):
    """device: ("zram", backend) | "ramdisk" | "null"; zswap: None or
    (exclusive, backend, limit or None)."""
    out = [STRATS.index(strategy), slots - 2]
    out += [0, device[1]] if isinstance(device, tuple) else [2 if device == "ramdisk" else 3]
    out += [frames - 2, [2, 4, 8, 512].index(cluster), [8, 0, 1, 2, 4].index(readahead)]
    if zswap is None:
        out += [1]
    else:
        excl, backend, limit = zswap
        out += [0, 1 if excl else 0, backend]
        out += [0] if limit is None else [1] + list(struct.pack(">H", limit))
    out += [pages - 1, len(populated) - 1] + [1 if p else 0 for p in populated]
    return out


def fp_read(mm, vpn):
    return [0, mm, vpn]


def fp_write(mm, vpn):
    return [9, mm, vpn]


def fp_pageout(mm, vpn, n):
    return [18, mm, vpn, n - 1]


def fp_dontneed(mm, vpn, n):
    return [24, mm, vpn, n - 1]


def fp_fork(mm):
    return [27, mm]


def fp_exit(mm):
    return [29, mm]


def fp_oor(mm, past):
    return [31, mm, past]


def fp_threads(*threads):
    out = [len(threads) - 1]
    for t in threads:
        out += [len(t)] + sum(t, [])
    return out


def fault_path_seeds():
    t = "fault_path_ops"
    # Thread A writes, pages out and reads back; thread B forks, writes in
    # the child and reads the parent; the schedule interleaves them.
    a = ([fp_write(0, v) for v in range(8)] + [fp_pageout(0, 0, 8)]
         + [fp_read(0, v) for v in range(8)])
    b = [fp_fork(0), fp_write(1, 3), fp_pageout(1, 0, 8), fp_read(0, 3),
         fp_read(1, 3), fp_dontneed(1, 2, 3), fp_read(1, 2), fp_exit(1)]
    sched = [0] * 9 + [1, 1, 1] + [0, 1] * 8
    write(t, "swapcache-ramdisk-fork", fp_machine("swapcache", 32, "ramdisk", 48)
          + fp_threads(a, b) + sched)
    write(t, "bypass-zram-two-spaces", fp_machine("bypass", 16, ("zram", 0), 32,
                                                  populated=(True, True))
          + fp_threads([fp_pageout(0, 0, 8), fp_read(0, 1), fp_dontneed(0, 0, 4)],
                       [fp_write(1, 0), fp_pageout(1, 0, 8), fp_read(1, 0), fp_read(0, 2)])
          + [0, 1, 0, 1, 0, 1, 1])
    write(t, "pin-retry-zswap-pool-limit", fp_machine(
        "pin-retry", 24, ("zram", 1), 32, zswap=(True, 0, 100))
          + fp_threads([fp_write(0, v) for v in range(8)] + [fp_pageout(0, 0, 8)]
                       + [fp_read(0, v) for v in range(8)]))
    write(t, "sync-map-null-device", fp_machine("sync-map", 8, "null", 16, cluster=2)
          + fp_threads([fp_write(0, 1), fp_pageout(0, 0, 8), fp_read(0, 1),
                        fp_write(0, 1), fp_read(0, 1), fp_oor(0, 0)]))
    write(t, "swap-count-zswap-fork", fp_machine(
        "swap-count", 32, ("zram", 2), 40, zswap=(False, 1, None), pages=6)
          + fp_threads([fp_pageout(0, 0, 6), fp_fork(0), fp_read(0, 0), fp_read(1, 0),
                        fp_write(1, 1), fp_pageout(1, 0, 6), fp_read(0, 1), fp_read(1, 1)],
                       [fp_fork(1), fp_read(2, 5), fp_dontneed(2, 0, 6), fp_exit(0)])
          + [0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1])
    write(t, "pte-marker-out-of-frames", fp_machine("pte-marker", 16, "ramdisk", 4,
                                                    populated=(True, False))
          + fp_threads([fp_read(1, v) for v in range(6)] + [fp_pageout(0, 0, 8)]
                       + [fp_read(1, v) for v in range(6)] + [fp_fork(0)]))
    write(t, "pin-sleep-swap-full", fp_machine("pin-sleep", 3, ("zram", 0), 24, cluster=2)
          + fp_threads([fp_pageout(0, 0, 8), fp_read(0, 0), fp_pageout(0, 4, 4),
                        fp_dontneed(0, 0, 2), fp_pageout(0, 4, 4), fp_read(0, 5)]))
    write(t, "pin-waitqueue-readahead", fp_machine("pin-waitqueue", 32, "ramdisk", 40,
                                                   cluster=2, readahead=4, pages=12)
          + fp_threads([fp_pageout(0, 0, 12), fp_read(0, 0), fp_read(0, 3)],
                       [fp_dontneed(0, 1, 1), fp_read(0, 2), fp_fork(0), fp_read(1, 7)],
                       [fp_write(0, 2), fp_pageout(0, 2, 1), fp_read(0, 2)])
          + [0, 1, 2, 0, 1, 2, 0, 1, 2, 1])


# ------------------------------------------------------------- swapcache_ops
# config: nr_slots index (mod 8) into SC_NR_SLOTS, reader guard if byte % 4
# == 0. op kind (mod 19). offset tag (mod 12): 0 small (mod 131), 3 n-th
# live slot, 5 live slot + d - 2, 6 last slot + d - 2, 7 address space k
# (int_in_range(0..=spaces)) * 16384 + d - 2, 8 64^(1 + k % 3) + d - 2,
# 9 int_in_range(0..=nr_slots - 1) big-endian, 10 u64::MAX - n % 4, 11 u64
# LE. nr (mod 14): 0-9 then 1 << (byte % 7); 10-11 then 1 << (7 + byte % 3);
# 12 zero; 13 then 3 + (u16 BE % 598). A range start for a power-of-two nr
# is followed by a byte: % 8 != 7 rounds it down to a multiple of nr.
SC_NR_SLOTS = [0, 1, 64, 4096, 4096 + 7, 16384 + 1, 3 * 16384 + 100, 1 << 18]
SC_KIND = dict(add=0, add_unchecked=3, get=4, get_cloned=5, get_entry=6,
               get_shadow=7, delete=8, delete_if=10, add_range=12,
               delete_range=14, clear_shadow=16, hold=17, flush=18)


def sc_int(delta, v):
    """The bytes of int_in_range(0..=delta) giving v (big-endian)."""
    n = 0
    while n < 8 and delta >> (8 * n) > 0:
        n += 1
    return list(v.to_bytes(n, "big")) if n else []


class Sc:
    """Encodes one swapcache_ops input for a device of SC_NR_SLOTS[idx]."""

    def __init__(self, idx, hold=False):
        self.nr_slots = SC_NR_SLOTS[idx]
        self.out = [idx, 0 if hold else 1]

    # offsets
    @staticmethod
    def small(n):
        return [0, n]

    @staticmethod
    def live(n, d=None):
        return [3, n] if d is None else [5, n, d + 2]

    @staticmethod
    def last(d=0):
        return [6, d + 2]

    def space(self, k, d=0):
        spaces = -(-self.nr_slots // 16384)
        return [7] + sc_int(spaces, k) + [d + 2]

    @staticmethod
    def node(k, d=0):
        return [8, k - 1, d + 2]

    def dev(self, x):
        return [9] + sc_int(max(self.nr_slots - 1, 0), x)

    @staticmethod
    def top(n=0):
        return [10, n]

    @staticmethod
    def u64(v):
        return [11] + list(struct.pack("<Q", v))

    # operands
    @staticmethod
    def nr(n):
        if n == 0:
            return [12]
        if n & (n - 1) == 0 and n <= 64:
            return [0, n.bit_length() - 1]
        if n & (n - 1) == 0 and n <= 512:
            return [10, n.bit_length() - 8]
        return [13] + list(struct.pack(">H", n - 3))

    @staticmethod
    def shadow(v=None):
        return [0] if v is None else [1, 0, v]

    def op(self, kind, *args):
        self.out += [SC_KIND[kind]] + sum(args, [])
        return self

    def add(self, off, clone_of=None):
        return self.op("add", off, [1] if clone_of is None else [0] + clone_of)

    def delete(self, off, want="same", shadow=None):
        w = {"same": [0], "fresh": [3]}.get(want) if isinstance(want, str) else [2] + want
        return self.op("delete", off, w, self.shadow(shadow))

    def delete_if(self, off, test="model", shadow=None):
        t = {"model": [0], "always": [3], "never": [4]}.get(test) if isinstance(test, str) \
            else [2] + test
        return self.op("delete_if", off, t, self.shadow(shadow))

    def range_start(self, off, n, align=True):
        return off + ([0 if align else 7] if n and n & (n - 1) == 0 else [])

    def add_range(self, off, n, align=True):
        return self.op("add_range", self.nr(n), self.range_start(off, n, align))

    def delete_range(self, off, n, want="same", shadow=None, align=True):
        w = {"same": [0], "fresh": [3]}.get(want) if isinstance(want, str) else [2] + want
        return self.op("delete_range", self.nr(n), self.range_start(off, n, align), w,
                       self.shadow(shadow))


def swapcache_seeds():
    t = "swapcache_ops"
    s = Sc(4)  # 4103 slots: height 3, one address space
    for i in range(6):
        s.add(s.small(i))
    s.add(s.node(2, -1)).add(s.node(2)).add(s.last()).add(s.last(1)).add(s.top())
    s.add(s.small(3))                                   # Exists
    s.op("get", s.small(3)).op("get_cloned", s.small(4)).op("get_entry", s.node(2))
    s.delete(s.small(0)).delete(s.small(1), shadow=7)   # plain, and leaving a shadow
    s.op("get_shadow", s.small(1)).op("get_entry", s.small(1)).op("get", s.small(1))
    s.delete(s.small(2), want="fresh").delete(s.small(2), want=s.small(3))
    s.delete(s.small(2), want="fresh", shadow=6).delete(s.small(2), want=s.small(3), shadow=6)
    s.delete_if(s.small(2), "never", shadow=6).delete_if(s.small(2), s.small(3), shadow=6)
    s.delete(s.small(1), want=s.small(3)).delete(s.small(40), want=s.small(3))
    s.delete(s.last(1), want="fresh")                   # OutOfRange
    s.add(s.small(1)).delete(s.small(1), shadow=9).op("clear_shadow", s.small(1))
    s.delete(s.small(3), shadow=5).op("clear_shadow", s.small(4))
    s.add(s.small(3)).op("flush").op("clear_shadow", s.small(3))
    write(t, "single-slot", s.out)

    s = Sc(4)
    for n, off in [(1, 0), (2, 2), (4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]:
        s.add_range(s.small(off), n)
    s.add_range(s.small(8), 8)                          # Exists at 8
    s.add_range(s.small(0), 64)                         # Exists at 0
    s.add_range(s.small(3), 4, align=False)             # Unaligned
    s.add_range(s.small(0), 0).add_range(s.small(0), 3)
    s.add_range(s.small(0), 128).add_range(s.small(0), 512)
    s.add_range(s.last(-2), 8)                          # 4096 + 8 > 4103
    s.add_range(s.last(-2), 4).add_range(s.node(2), 8, align=False)
    s.delete_range(s.small(16), 16, shadow=3)           # shadows left
    s.op("get_shadow", s.small(20)).add_range(s.small(16), 16)  # first shadow back
    s.delete_range(s.small(32), 32, want="fresh")       # Mismatch at 32
    s.op("add_unchecked", s.small(40))
    s.delete_range(s.small(32), 32)                     # Mismatch at 40
    s.delete(s.small(70))                               # one page of the 64
    s.delete_range(s.small(64), 64)                     # NotCached at 70
    s.delete_range(s.small(120), 2, want=s.small(64), shadow=1)
    s.delete_range(s.small(8), 8).delete_range(s.small(8), 8)
    s.delete_range(s.small(4), 4, shadow=2).add_range(s.small(4), 4)
    s.op("get_entry", s.small(5)).op("get_cloned", s.small(7))
    write(t, "large-folios", s.out)

    s = Sc(5)  # 16385 slots: a second address space of one slot
    s.add(s.space(1, -1)).add(s.space(1)).add(s.space(1, 1)).add(s.dev(12345))
    s.add_range(s.space(1, -2), 2).add_range(s.space(1), 1).add_range(s.space(1), 2)
    s.delete_if(s.space(1)).delete_if(s.space(1, -1), "never")
    s.delete_if(s.dev(12345), "always", shadow=77).delete_if(s.dev(12345), "always")
    s.delete_if(s.space(1, -2), s.dev(12345)).delete_if(s.space(1, -2), s.space(1, -2))
    s.delete_if(s.top(), "always").op("get_shadow", s.dev(12345))
    write(t, "address-spaces", s.out)

    s = Sc(7)  # 2^18 slots: 16 address spaces
    for k in range(0, 17, 3):
        s.add(s.space(k)).add_range(s.space(k, -2), 64)
    s.add(s.node(3, -1)).add(s.node(3)).add(s.dev(200000)).add(s.last()).add(s.last(1))
    for k in range(0, 17, 3):
        s.delete_range(s.space(k, -2), 64).delete(s.space(k))
    write(t, "many-spaces", s.out)

    s = Sc(2)  # 64 slots: one leaf
    s.add(s.small(5)).op("add_unchecked", s.small(5))   # displaces the folio
    s.delete(s.small(6), shadow=1).add(s.small(6), clone_of=[0, 5])
    s.add(s.small(6)).op("add_unchecked", s.small(7)).delete(s.small(7), shadow=4)
    s.op("add_unchecked", s.small(7)).op("add_unchecked", s.small(64))
    s.add(s.small(4), clone_of=s.small(5))              # same folio at 4, 5, 6
    s.delete_range(s.small(4), 4)                       # 7 is another folio
    s.delete(s.small(7)).add(s.small(7), clone_of=s.small(5))
    s.delete_range(s.small(4), 4, want=s.small(6))      # all four: one folio
    s.op("get_entry", s.small(5))
    write(t, "legacy-and-clones", s.out)

    s = Sc(3, hold=True)  # 4096 slots, a reader pinned throughout
    for i in range(8):
        s.add(s.small(i * 9)).op("hold", s.small(i * 9))
    s.add_range(s.small(64), 64).op("hold", s.small(100))
    for i in range(8):
        s.op("add_unchecked", s.live(0)).op("flush")
    for i in range(8):
        s.delete(s.small(i * 9)).op("flush")
    s.delete_range(s.small(64), 64).op("flush").op("hold", s.small(64))
    write(t, "pinned-reader", s.out)

    s = Sc(0)  # no slot at all
    s.add(s.small(0)).op("add_unchecked", s.small(0)).add_range(s.small(0), 1)
    s.delete(s.small(0), want="fresh").delete_if(s.small(0), "always")
    s.delete_range(s.small(0), 1, want="fresh").op("clear_shadow", s.small(0))
    s.op("get", s.dev(0)).add(s.space(0)).add(s.last())
    write(t, "empty-device", s.out)

    s = Sc(1)  # one slot
    s.add(s.small(0)).add(s.small(1)).add_range(s.small(0), 2).add_range(s.small(0), 1)
    s.delete(s.small(0), shadow=3).add_range(s.small(0), 1).delete_range(s.small(0), 1)
    s.op("get_cloned", s.small(0)).op("get_shadow", s.small(0)).add(s.dev(0))
    write(t, "one-slot", s.out)


if __name__ == "__main__":
    fault_path_seeds()
    xarray_seeds()
    swapcache_seeds()
    swapmap_seeds()
    zswap_decompress_seeds()
    zswap_ops_seeds()
