"""Hand-derived checks of validation/allocator.py (run: python -m pytest validation/test_allocator.py).

Every expected value below is worked out by hand from the rules of c10/cuda/CUDACachingAllocator.cpp
(the derivation is in the comment next to it), not read back from the model."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from allocator import (
    ALLOC,
    FREE,
    AllocatorConfig,
    CachingAllocator,
    OutOfMemory,
    _roundup_power2_next_division,
    allocation_size,
    replay,
    round_size,
    smallest_limit,
)

MiB = 1 << 20


def test_round_size():
    assert round_size(1) == 512  # below kMinBlockSize
    assert round_size(512) == 512
    assert round_size(513) == 1024
    assert round_size(MiB + 1) == MiB + 512
    # roundup_power2_next_division: the C++ comment's own example (1200, 4 divisions -> 1280)
    assert _roundup_power2_next_division(1200, 4) == 1280
    # round_size only uses it above 512 x divisions: 1200 <= 2048 keeps the 512 rule
    assert round_size(1200, divisions=4) == 1536
    # 5000 with 4 divisions: between 4096 and 8192 in steps of 1024 -> 5120
    assert round_size(5000, divisions=4) == 5120
    assert round_size(4096, divisions=4) == 4096  # powers of two stay


def test_allocation_size():
    assert allocation_size(512) == 2 * MiB  # small pool: kSmallBuffer
    assert allocation_size(MiB) == 2 * MiB  # 1 MiB is still small
    assert allocation_size(MiB + 512) == 20 * MiB  # 1-10 MiB: kLargeBuffer
    assert allocation_size(10 * MiB - 512) == 20 * MiB
    assert allocation_size(10 * MiB) == 10 * MiB  # >= kMinLargeAlloc: own segment, 2 MiB rounding
    assert allocation_size(11 * MiB + 1) == 12 * MiB


def test_small_pool_packs_into_2mib_segments():
    a = CachingAllocator()
    a.malloc(1000)  # 1024 B in a new 2 MiB small segment
    a.malloc(1000)  # same segment
    assert a.stats.allocated == 2048
    assert a.stats.reserved == 2 * MiB
    a.malloc(2 * MiB - 2048)  # exactly the rest? 2 MiB - 2048 > 1 MiB: large pool, new 20 MiB segment
    assert a.stats.reserved == 22 * MiB


def test_large_pool_split_and_reuse():
    a = CachingAllocator()
    a.malloc(3 * MiB)  # new 20 MiB segment, 17 MiB remainder cached (17 > 1 MiB: split)
    assert (a.stats.allocated, a.stats.reserved) == (3 * MiB, 20 * MiB)
    a.malloc(5 * MiB)  # from the remainder; 12 MiB left
    a.malloc(12 * MiB)  # exact fit, no split
    assert (a.stats.allocated, a.stats.reserved) == (20 * MiB, 20 * MiB)
    a.malloc(int(1.5 * MiB))  # nothing cached: a second 20 MiB segment
    assert a.stats.reserved == 40 * MiB


def test_unsplit_remainder_counts_as_allocated():
    a = CachingAllocator()
    # 19.5 MiB >= 10 MiB: own segment rounded to 20 MiB; remainder 0.5 MiB <= kSmallSize: not split,
    # so the whole 20 MiB block is allocated (max_memory_allocated sees 20 MiB)
    a.malloc(int(19.5 * MiB))
    assert a.stats.allocated == 20 * MiB
    assert a.stats.requested == int(19.5 * MiB)


def test_best_fit_takes_smallest_block_that_fits():
    a = CachingAllocator()
    x = a.malloc(30 * MiB)
    y = a.malloc(24 * MiB)
    y_ptr = y.ptr
    a.free(x)
    a.free(y)
    z = a.malloc(22 * MiB)  # 24 MiB block is the best fit; remainder 2 MiB > 1 MiB: split
    assert z.ptr == y_ptr and z.size == 22 * MiB
    assert a.stats.reserved == 54 * MiB


def test_free_merges_neighbours():
    a = CachingAllocator()
    p = a.malloc(4 * MiB)
    q = a.malloc(4 * MiB)  # same 20 MiB segment: p | q | 12 MiB free
    p_ptr = p.ptr
    a.free(p)
    a.free(q)  # q merges with p and the remainder: one free 20 MiB block
    r = a.malloc(20 * MiB)  # served from the cache
    assert r.ptr == p_ptr and a.stats.reserved == 20 * MiB


def test_cache_release_then_success_under_limit():
    a = CachingAllocator(AllocatorConfig(memory_limit=40 * MiB))
    x = a.malloc(30 * MiB)
    a.free(x)  # 30 MiB cached
    a.malloc(32 * MiB)  # 30 + 32 > 40: release the cached segment, then 0 + 32 <= 40
    assert (a.stats.reserved, a.stats.num_alloc_retries) == (32 * MiB, 1)
    assert a.stats.max_reserved == 32 * MiB  # the release happened before the new segment


def _fragment(a: CachingAllocator):
    """A | B | C | 2 MiB in one 20 MiB segment (6 MiB each), then A and C freed: B pins the segment."""
    blocks = [a.malloc(6 * MiB) for _ in range(3)]
    a.free(blocks[0])
    a.free(blocks[2])
    return blocks[1]


def test_oom_from_fragmentation_that_release_cannot_recover():
    a = CachingAllocator(AllocatorConfig(memory_limit=40 * MiB))
    _fragment(a)
    assert (a.stats.allocated, a.stats.reserved) == (6 * MiB, 20 * MiB)
    # 22 MiB: nothing cached fits; 20 + 22 > 40; the segment is split (B lives): nothing to release
    with pytest.raises(OutOfMemory):
        a.malloc(22 * MiB)


def test_expandable_limit_check_uses_the_whole_request():
    # expandable: same pattern.  The fraction check is reserved + alloc_size (20 + 22 > 40) before
    # any mapping, and no whole 20 MiB page is free to unmap: OOM as well
    a = CachingAllocator(AllocatorConfig(expandable_segments=True, memory_limit=40 * MiB))
    _fragment(a)
    assert a.stats.reserved == 20 * MiB
    with pytest.raises(OutOfMemory):
        a.malloc(22 * MiB)
    # against physical memory instead, only the new pages count: free [12, 20) + one new page suffice
    b = CachingAllocator(AllocatorConfig(expandable_segments=True, physical_bytes=40 * MiB))
    _fragment(b)
    blk = b.malloc(22 * MiB)
    assert blk.ptr - min(s.base for s in b._segments) == 12 * MiB
    assert b.stats.reserved == 40 * MiB
    c = CachingAllocator(AllocatorConfig(physical_bytes=40 * MiB))  # default: 20 + 22 > 40
    _fragment(c)
    with pytest.raises(OutOfMemory):
        c.malloc(22 * MiB)


def test_expandable_unmaps_free_pages_default_cannot_release():
    # X = 40 MiB, freed; Y = 12 MiB placed at its start; then 50 MiB under a 70 MiB limit.
    # default: 40 + 50 > 70 and X's segment is split by Y -> OOM although 12 + 50 <= 70.
    d = CachingAllocator(AllocatorConfig(memory_limit=70 * MiB))
    d.free(d.malloc(40 * MiB))
    d.malloc(12 * MiB)
    with pytest.raises(OutOfMemory):
        d.malloc(50 * MiB)
    # expandable: 40 + 50 > 70 -> release unmaps page [20, 40) (the only whole free page) -> reserved 20;
    # 20 + 50 <= 70 passes; the block grows from [12, 20) over 42 MiB more = pages 1..3 (60 MiB):
    # reserved 80 MiB, above the limit (the check used the request, the mapping rounds to pages)
    e = CachingAllocator(AllocatorConfig(expandable_segments=True, memory_limit=70 * MiB))
    e.free(e.malloc(40 * MiB))
    e.malloc(12 * MiB)
    blk = e.malloc(50 * MiB)
    base = e._segments[0].base
    assert (blk.ptr - base, blk.size) == (12 * MiB, 50 * MiB)
    assert e.stats.reserved == 80 * MiB and e.stats.num_alloc_retries == 1


GROWTH = [12, 14, 16, 18, 20]  # MiB: a buffer re-allocated one size larger each step, old one freed


def _growth_events():
    ev = []
    for i, s in enumerate(GROWTH):
        ev.append((ALLOC, i, s * MiB))
        if i:
            ev.append((FREE, i - 1, 0))
    return ev


def test_growth_pattern_default_vs_expandable():
    ev = _growth_events()
    # default: every size >= 10 MiB gets its own segment and no cached one is large enough:
    # 12 + 14 + 16 + 18 + 20 = 80 MiB reserved at the end
    d = replay(ev)
    assert d.ok and d.max_reserved == 80 * MiB and d.max_allocated == 38 * MiB
    # expandable (20 MiB pages): 12 -> page 0; 14 -> grows from the free tail [12, 20) into page 1;
    # 16 -> grows from [26, 40) into page 2 (60 MiB); 18 -> lands in the freed front [0, 26);
    # 20 -> fits the freed [18, 60): 60 MiB at most
    e = replay(ev, AllocatorConfig(expandable_segments=True))
    assert e.ok and e.max_reserved == 60 * MiB


def test_smallest_limit_default_growth():
    # default with a limit L: before each new segment the cached (whole) segments are released when
    # needed, so the need is max(old + new) = 18 + 20 = 38 MiB; at 36 MiB the last step fails
    ok, fail = smallest_limit(_growth_events())
    assert (ok, fail) == (38 * MiB, 36 * MiB)


def test_max_split_size_blocks_oversize_reuse():
    # max_split_size 32 MiB: a cached 40 MiB block is not used for a 12 MiB request (oversize rule)
    a = CachingAllocator(AllocatorConfig(max_split_size=32 * MiB))
    a.free(a.malloc(40 * MiB))
    a.malloc(12 * MiB)
    assert a.stats.reserved == 52 * MiB
    # ... but serves a 36 MiB request (within max_non_split_rounding_size = 20 MiB), unsplit
    b = a.malloc(36 * MiB)
    assert b.size == 40 * MiB and a.stats.reserved == 52 * MiB


def test_replay_skips_zero_bytes_and_reports_oom_index():
    ev = [(ALLOC, "a", 0), (ALLOC, "b", 30 * MiB), (ALLOC, "c", 30 * MiB), (FREE, "a", 0)]
    r = replay(ev, AllocatorConfig(memory_limit=50 * MiB))
    assert not r.ok and r.oom_at == 2 and r.max_reserved == 30 * MiB


def test_addresses_top_down_ties_go_to_the_newer_segment():
    # cudaMalloc ranges are handed out top-down and packed, so of two equal free blocks the one from
    # the later segment has the lower address and wins the tie (BlockComparatorSize: size, then ptr)
    a = CachingAllocator()
    x = a.malloc(12 * MiB)
    y = a.malloc(12 * MiB)
    x_ptr, y_ptr = x.ptr, y.ptr
    assert y_ptr == x_ptr - 12 * MiB  # packed directly below
    a.free(x)
    a.free(y)
    assert a.malloc(12 * MiB).ptr == y_ptr
    # a released range is reused (from the top) by the next cudaMalloc that fits
    a.release_cached_blocks()  # frees x's segment (y's is in use again)
    assert a.malloc(12 * MiB).ptr == x_ptr
