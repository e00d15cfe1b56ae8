"""A pure-Python model of PyTorch's CUDA caching allocator (the "native" backend).

Source followed: ``c10/cuda/CUDACachingAllocator.cpp`` (class ``DeviceCachingAllocator``; since torch 2.9
the same logic also lives in ``c10/core/CachingDeviceAllocator.h``, ``CachingDeviceAllocatorImpl``) and
the constants of ``c10/core/AllocatorConfig.h`` (identical in torch 2.4 … 2.13, checked against the
torch 2.13 headers).  Function names in comments are the C++ ones.  What is modelled:

* ``round_size``: requests are rounded up to a multiple of ``kMinBlockSize`` = 512 bytes
  (``roundup_power2_divisions``, off by default, as one division count for all sizes).
* Two pools: ``small`` for rounded sizes ≤ ``kSmallSize`` = 1 MiB, ``large`` above.  A new device
  allocation (``get_allocation_size``) is ``kSmallBuffer`` = 2 MiB for the small pool, ``kLargeBuffer`` =
  20 MiB for large requests < ``kMinLargeAlloc`` = 10 MiB, else the size rounded up to ``kRoundLarge`` = 2 MiB.
* ``get_free_block``: best fit — the smallest cached free block of the pool whose size ≥ the request
  (ties: lowest address, ``BlockComparatorSize``); ``max_split_size`` rules (default: unlimited, no rule).
* ``should_split`` / ``alloc_found_block``: the block is split and the remainder cached when the
  remainder is ≥ 512 B (small pool, or expandable segments) or > 1 MiB (large pool).
* ``free_block`` / ``try_merge_blocks``: a freed block merges with free neighbours of its segment.
* ``malloc``'s fallbacks: new device allocation (``alloc_block``) → ``release_available_cached_blocks``
  (only with ``max_split_size``) → ``release_cached_blocks`` (frees every cached block that is a whole
  segment; unmaps whole free pages of expandable segments) and retry → OOM.
* ``set_per_process_memory_fraction``: ``alloc_block`` fails when ``reserved + alloc_size`` would exceed
  the allowed maximum (checked before any device call, with the rounded *allocation* size).
* A physical capacity (``cudaMalloc`` / ``cuMemCreate`` failing): device memory left to the allocator.
* ``expandable_segments:True`` (``ExpandableSegment``, ``find_expandable_block``,
  ``try_allocate_expandable_block``, ``map_block``, ``unmap_block``): one virtual segment per pool
  (single stream) that grows by mapping pages of 2 MiB (small pool) or 20 MiB (large pool) at the lowest
  address with enough free + unmapped space; cache release unmaps the whole free pages.

Not modelled: multiple streams / ``record_stream`` events, CUDA-graph private pools, the
``garbage_collection_threshold`` (off by default), IPC.

Addresses only matter for ties between equal-size free blocks (the lower address wins).  The driver
hands out ``cudaMalloc`` ranges top-down and packed: in published ``torch.cuda.memory_snapshot()`` dumps
a segment allocated after a 20 MiB one sits exactly its own size below it (e.g. a 1 GiB segment at
0x7fcf48000000 under a 20 MiB one at 0x7fcf88000000).  :class:`_AddressSpace` does that, reusing freed
ranges from the top.  The opposite order changes the replayed ``max_reserved`` of one calibration run
(eager attention, 2 GiB buffers) by one 2 GiB segment; top-down is the order that matches it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

MiB = 1 << 20

# c10/core/AllocatorConfig.h (torch 2.13) = constants at the top of CUDACachingAllocator.cpp (older torch)
K_MIN_BLOCK_SIZE = 512  # "all sizes are rounded to at least 512 bytes"
K_SMALL_SIZE = 1 * MiB  # "largest 'small' allocation is 1 MiB"
K_SMALL_BUFFER = 2 * MiB  # "'small' allocations are packed in 2 MiB blocks"
K_LARGE_BUFFER = 20 * MiB  # "'large' allocations may be packed in 20 MiB blocks" (large_segment_size)
K_MIN_LARGE_ALLOC = 10 * MiB  # "allocations between 1 and 10 MiB may use kLargeBuffer"
K_ROUND_LARGE = 2 * MiB  # "round up large allocations to 2 MiB"


class OutOfMemory(Exception):
    """The model's equivalent of ``torch.OutOfMemoryError`` (raised by ``malloc``)."""


@dataclass(frozen=True)
class AllocatorConfig:
    """The ``PYTORCH_CUDA_ALLOC_CONF`` knobs that change placement, plus the memory bounds."""

    expandable_segments: bool = False
    # max_split_size_mb (default unlimited = None) and max_non_split_rounding_mb (default 20 MiB)
    max_split_size: int | None = None
    max_non_split_rounding_size: int = K_LARGE_BUFFER
    # roundup_power2_divisions as one division count for every size (0/1 = off, the default)
    roundup_power2_divisions: int = 0
    # set_per_process_memory_fraction(f): allowed_memory_maximum = f × device total, in bytes (None = unset)
    memory_limit: int | None = None
    # device memory the driver can still give this allocator (None = unbounded)
    physical_bytes: int | None = None
    # device total: only sizes an expandable segment's virtual range (1 1/8 of it, ExpandableSegment ctor)
    device_total_bytes: int = 150 * 10**9


class _AddressSpace:
    """Device virtual addresses: top-down, packed, freed ranges reused from the top (see module doc)."""

    def __init__(self, top: int = 1 << 47):
        self.floor = top  # everything at or above floor is handed out or in a hole
        self.holes: list[tuple[int, int]] = []  # (base, size) of freed ranges

    def alloc(self, size: int, align: int) -> int:
        for i in range(len(self.holes) - 1, -1, -1):  # holes sorted by base: highest first
            base, hsize = self.holes[i]
            start = (base + hsize - size) // align * align
            if start >= base:
                del self.holes[i]
                if start + size < base + hsize:
                    bisect.insort(self.holes, (start + size, base + hsize - start - size))
                if start > base:
                    bisect.insort(self.holes, (base, start - base))
                return start
        self.floor = (self.floor - size) // align * align
        return self.floor

    def free(self, base: int, size: int) -> None:
        bisect.insort(self.holes, (base, size))
        merged: list[tuple[int, int]] = []
        for b, sz in self.holes:
            if merged and merged[-1][0] + merged[-1][1] == b:
                merged[-1] = (merged[-1][0], merged[-1][1] + sz)
            else:
                merged.append((b, sz))
        self.holes = merged


class _Segment:
    """An expandable segment: a virtual range of ``max_pages`` pages, some of them mapped."""

    __slots__ = ("base", "mapped", "max_pages", "page")

    def __init__(self, base: int, page: int, max_pages: int):
        self.base = base
        self.page = page
        self.max_pages = max_pages
        self.mapped: set[int] = set()


class Block:
    __slots__ = ("allocated", "mapped", "next", "prev", "ptr", "requested", "segment", "size", "small")

    def __init__(self, size: int, ptr: int, small: bool, segment: _Segment | None = None, mapped=True):
        self.size = size
        self.ptr = ptr
        self.small = small
        self.segment = segment  # None for cudaMalloc'd segments
        self.mapped = mapped
        self.allocated = False
        self.requested = 0
        self.prev: Block | None = None
        self.next: Block | None = None

    def is_split(self) -> bool:
        return self.prev is not None or self.next is not None

    def __repr__(self) -> str:  # debugging aid
        state = "A" if self.allocated else ("F" if self.mapped else "U")
        return f"Block({state} size={self.size} ptr={self.ptr:#x})"


class _SortedBlocks:
    """A set of blocks ordered by a key (``BlockComparatorSize`` or ``BlockComparatorAddress``)."""

    __slots__ = ("_by_key", "_keyfn", "_keys")

    def __init__(self, by_size: bool):
        self._keys: list[tuple[int, ...]] = []
        self._by_key: dict[tuple[int, ...], Block] = {}
        self._keyfn = (lambda b: (b.size, b.ptr)) if by_size else (lambda b: (b.ptr,))

    def add(self, b: Block) -> None:
        k = self._keyfn(b)
        assert k not in self._by_key, "block already cached"
        bisect.insort(self._keys, k)
        self._by_key[k] = b

    def remove(self, b: Block) -> None:
        k = self._keyfn(b)
        i = bisect.bisect_left(self._keys, k)
        assert i < len(self._keys) and self._keys[i] == k, "block not cached"
        del self._keys[i]
        del self._by_key[k]

    def lower_bound(self, key: tuple[int, ...]) -> int:
        return bisect.bisect_left(self._keys, key)

    def at(self, i: int) -> Block:
        return self._by_key[self._keys[i]]

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter([self._by_key[k] for k in self._keys])


class _Pool:
    __slots__ = ("blocks", "small", "unmapped")

    def __init__(self, small: bool):
        self.small = small
        self.blocks = _SortedBlocks(by_size=True)  # free, mapped blocks
        self.unmapped = _SortedBlocks(by_size=False)  # expandable: unmapped ranges, by address


@dataclass
class Stats:
    allocated: int = 0
    max_allocated: int = 0
    reserved: int = 0
    max_reserved: int = 0
    requested: int = 0
    max_requested: int = 0
    segments: int = 0
    num_alloc_retries: int = 0
    num_ooms: int = 0
    num_device_alloc: int = 0
    num_device_free: int = 0
    extra: dict = field(default_factory=dict)


def round_size(size: int, divisions: int = 0) -> int:
    """``round_size`` (512-byte multiple, or the next power-of-2 division when configured)."""
    if size < K_MIN_BLOCK_SIZE:
        return K_MIN_BLOCK_SIZE
    if divisions > 1 and size > K_MIN_BLOCK_SIZE * divisions:
        return _roundup_power2_next_division(size, divisions)
    return K_MIN_BLOCK_SIZE * ((size + K_MIN_BLOCK_SIZE - 1) // K_MIN_BLOCK_SIZE)


def _roundup_power2_next_division(size: int, divisions: int) -> int:
    """``roundup_power2_next_division``: e.g. 1200 with 4 divisions → 1280 (1024, 1280, 1536, 1792)."""
    if size & (size - 1) == 0:
        return size
    floor = 1 << (size.bit_length() - 1)
    step = floor >> (divisions.bit_length() - 1)
    if step == 0:
        return floor << 1
    low = size & ~(step - 1)
    return size if low == size else low + step


def allocation_size(size: int) -> int:
    """``get_allocation_size``: bytes a new device allocation gets for a rounded request."""
    if size <= K_SMALL_SIZE:
        return K_SMALL_BUFFER
    if size < K_MIN_LARGE_ALLOC:
        return K_LARGE_BUFFER
    return K_ROUND_LARGE * ((size + K_ROUND_LARGE - 1) // K_ROUND_LARGE)


class CachingAllocator:
    """One device, one stream.  ``malloc(nbytes) -> Block``, ``free(block)``, ``empty_cache()``."""

    def __init__(self, config: AllocatorConfig | None = None):
        self.cfg = config or AllocatorConfig()
        self.small = _Pool(small=True)
        self.large = _Pool(small=False)
        self.stats = Stats()
        self._va = _AddressSpace()
        self._segments: list[_Segment] = []
        self.memory_limit = self.cfg.memory_limit  # set_per_process_memory_fraction can change it later

    # ------------------------------------------------------------------ public API
    def malloc(self, nbytes: int) -> Block:
        """``DeviceCachingAllocator::malloc``."""
        if nbytes < 0:
            raise ValueError(f"nbytes: a size cannot be negative ({nbytes})")
        cfg = self.cfg
        size = round_size(nbytes, cfg.roundup_power2_divisions)
        pool = self.small if size <= K_SMALL_SIZE else self.large  # get_pool
        alloc_size = allocation_size(size)
        block = self._get_free_block(pool, size)
        if block is None:
            block = self._alloc_block(pool, size, alloc_size)
            if block is None and self._release_available_cached_blocks(pool, size):
                block = self._alloc_block(pool, size, alloc_size)
            if block is None:
                self.release_cached_blocks()
                self.stats.num_alloc_retries += 1
                block = self._alloc_block(pool, size, alloc_size)
            if block is None:
                self.stats.num_ooms += 1
                raise OutOfMemory(
                    f"tried to allocate {alloc_size} B (request {nbytes} B): allocated "
                    f"{self.stats.allocated} B, reserved {self.stats.reserved} B, limit {self.memory_limit}"
                )
        return self._alloc_found_block(pool, block, size, nbytes, self._should_split(block, size))

    def free(self, block: Block) -> None:
        """``DeviceCachingAllocator::free`` (no cross-stream uses, so straight to ``free_block``)."""
        assert block.allocated, "double free"
        block.allocated = False
        st = self.stats
        st.allocated -= block.size
        st.requested -= block.requested
        self._free_block(block)

    def set_memory_limit(self, nbytes: int | None) -> None:
        """``setMemoryFraction``: only later ``alloc_block`` calls see it (nothing is released now)."""
        self.memory_limit = nbytes

    def empty_cache(self) -> None:
        """``torch.cuda.empty_cache()`` = ``release_cached_blocks``."""
        self.release_cached_blocks()

    def reset_peak_stats(self) -> None:
        st = self.stats
        st.max_allocated, st.max_reserved, st.max_requested = st.allocated, st.reserved, st.requested

    # ------------------------------------------------------------------ block search and split
    def _pool_of(self, b: Block) -> _Pool:
        return self.small if b.small else self.large

    def _get_free_block(self, pool: _Pool, size: int) -> Block | None:
        """``get_free_block``: best fit in the pool, with the expandable-segment and oversize rules."""
        cfg = self.cfg
        blocks = pool.blocks
        i = blocks.lower_bound((size, -1))
        if i == len(blocks):
            return None
        b = blocks.at(i)
        if b.segment is not None:
            if cfg.expandable_segments:
                # a block in front of unmapped space counts as the size it can grow to
                def expandable_size(x: Block) -> int:
                    return x.size + (x.next.size if x.next is not None and not x.next.mapped else 0)

                while b.segment is not None and i + 1 < len(blocks):
                    nxt = blocks.at(i + 1)
                    if expandable_size(nxt) < expandable_size(b):
                        i, b = i + 1, nxt
                    else:
                        break
            else:  # expandable segments turned off later: skip expandable blocks
                while i < len(blocks) and blocks.at(i).segment is not None:
                    i += 1
                if i == len(blocks):
                    return None
                b = blocks.at(i)
        mss = cfg.max_split_size
        if mss is not None:
            if size < mss and b.size >= mss:  # "do not return an oversized block for a large request"
                return None
            if size >= mss and b.size >= size + cfg.max_non_split_rounding_size:
                return None
        blocks.remove(b)
        return b

    def _should_split(self, b: Block, size: int) -> bool:
        """``should_split``."""
        remaining = b.size - size
        if b.small or self.cfg.expandable_segments:
            return remaining >= K_MIN_BLOCK_SIZE
        mss = self.cfg.max_split_size
        return (mss is None or size < mss) and remaining > K_SMALL_SIZE

    def _alloc_found_block(self, pool: _Pool, b: Block, size: int, nbytes: int, split: bool) -> Block:
        """``alloc_found_block``: the front of the block is handed out, the remainder stays cached."""
        if split:
            front = Block(size, b.ptr, b.small, b.segment)
            front.prev = b.prev
            if front.prev is not None:
                front.prev.next = front
            front.next = b
            b.prev = front
            b.ptr += size
            b.size -= size
            pool.blocks.add(b)
            b = front
        b.allocated = True
        b.requested = nbytes
        st = self.stats
        st.allocated += b.size
        st.max_allocated = max(st.max_allocated, st.allocated)
        st.requested += nbytes
        st.max_requested = max(st.max_requested, st.requested)
        return b

    def _free_block(self, b: Block) -> None:
        """``free_block``: merge with free neighbours, cache the result."""
        pool = self._pool_of(b)
        for cand in (b.prev, b.next):
            self._try_merge(b, cand, pool)
        pool.blocks.add(b)

    def _try_merge(self, dst: Block, src: Block | None, pool: _Pool) -> int:
        """``try_merge_blocks``: absorb ``src`` into ``dst`` when it is free and in the same mapped state."""
        if src is None or src.allocated or src.mapped != dst.mapped:
            return 0
        (pool.blocks if src.mapped else pool.unmapped).remove(src)
        if dst.prev is src:  # [src dst]
            dst.ptr = src.ptr
            dst.prev = src.prev
            if dst.prev is not None:
                dst.prev.next = dst
        else:  # [dst src]
            dst.next = src.next
            if dst.next is not None:
                dst.next.prev = dst
        dst.size += src.size
        return src.size

    # ------------------------------------------------------------------ new memory
    def _new_va(self, size: int, align: int = K_SMALL_BUFFER) -> int:
        return self._va.alloc(size, align)

    def _reserve(self, nbytes: int) -> None:
        st = self.stats
        st.reserved += nbytes
        st.max_reserved = max(st.max_reserved, st.reserved)
        st.num_device_alloc += 1

    def _alloc_block(self, pool: _Pool, size: int, alloc_size: int) -> Block | None:
        """``alloc_block``: the fraction check, then ``cudaMalloc`` or expandable growth."""
        cfg = self.cfg
        if self.memory_limit is not None and self.stats.reserved + alloc_size > self.memory_limit:
            return None
        if cfg.expandable_segments:
            return self._try_allocate_expandable_block(pool, size)
        if cfg.physical_bytes is not None and self.stats.reserved + alloc_size > cfg.physical_bytes:
            return None  # cudaMalloc fails
        b = Block(alloc_size, self._new_va(alloc_size), pool.small)
        self._reserve(alloc_size)
        self.stats.segments += 1
        return b

    def _release_block(self, b: Block) -> None:
        """``release_block``: ``cudaFree`` of a whole cached segment."""
        assert b.segment is None and not b.is_split()
        self._pool_of(b).blocks.remove(b)
        self._va.free(b.ptr, b.size)
        self.stats.reserved -= b.size
        self.stats.segments -= 1
        self.stats.num_device_free += 1

    def _release_available_cached_blocks(self, pool: _Pool, size: int) -> bool:
        """``release_available_cached_blocks``: with ``max_split_size`` only, free oversize cached segments."""
        mss = self.cfg.max_split_size
        if mss is None:
            return False
        key = max(size, mss)
        blocks = pool.blocks
        i = blocks.lower_bound((key, -1))
        if i == len(blocks) or blocks.at(i).segment is not None:
            if i == 0:
                return False
            released = 0
            i -= 1
            while released < key and i >= 0 and blocks.at(i).size >= mss:
                b = blocks.at(i)
                i -= 1
                if b.segment is None:
                    released += b.size
                    self._release_block(b)
            return released >= key
        self._release_block(blocks.at(i))
        return True

    def release_cached_blocks(self) -> None:
        """``release_cached_blocks`` → ``release_blocks`` for the large then the small pool."""
        for pool in (self.large, self.small):
            to_unmap = []
            for b in list(pool.blocks):
                if b.segment is not None:
                    to_unmap.append(b)
                elif not b.is_split():
                    self._release_block(b)
            for b in to_unmap:
                self._unmap_block(pool, b)
                if not b.is_split():  # release_expandable_segment: the whole range is unmapped
                    pool.unmapped.remove(b)
                    self._segments.remove(b.segment)
                    self._va.free(b.ptr, b.size)
                    self.stats.segments -= 1

    # ------------------------------------------------------------------ expandable segments
    def _find_expandable_block(self, pool: _Pool, size: int) -> Block:
        """``find_expandable_block``: lowest address with ``size`` bytes of free + unmapped space."""

        def allocatable(x: Block | None) -> bool:
            return x is not None and not x.allocated

        def has_space(x: Block | None) -> bool:
            total = 0
            while total < size and allocatable(x):
                total += x.size
                x = x.next
            return total >= size

        for c in pool.unmapped:
            if allocatable(c.prev):
                c = c.prev
            if has_space(c):
                return c
        page = K_SMALL_BUFFER if pool.small else K_LARGE_BUFFER
        total = self.cfg.device_total_bytes
        max_pages = -(-(total + total // 8) // page)
        seg = _Segment(self._new_va(page * max_pages, page), page, max_pages)
        self._segments.append(seg)
        self.stats.segments += 1
        c = Block(page * max_pages, seg.base, pool.small, seg, mapped=False)
        pool.unmapped.add(c)
        return c

    def _try_allocate_expandable_block(self, pool: _Pool, size: int) -> Block | None:
        """``try_allocate_expandable_block``."""
        c = self._find_expandable_block(pool, size)
        if not c.mapped and not self._map_block(pool, c, min(c.size, size)):
            return None
        while c.size < size:  # free -> unmapped -> ...: map the difference, which merges into c
            nxt = c.next
            assert nxt is not None and not nxt.mapped
            if not self._map_block(pool, nxt, min(size - c.size, nxt.size)):
                return None
            c = nxt
        pool.blocks.remove(c)
        return c

    def _map_block(self, pool: _Pool, b: Block, size: int) -> bool:
        """``map_block`` / ``ExpandableSegment::map``: map whole pages from ``b.ptr`` to cover ``size``."""
        seg = b.segment
        off = b.ptr - seg.base
        assert off % seg.page == 0 and 0 < size <= b.size
        begin, end = off // seg.page, -(-(off + size) // seg.page)
        msize = (end - begin) * seg.page
        phys = self.cfg.physical_bytes
        if phys is not None and self.stats.reserved + msize > phys:
            return False  # cuMemCreate out of memory
        seg.mapped.update(range(begin, end))
        pool.unmapped.remove(b)
        b.mapped = True
        if msize < b.size:
            rest = Block(b.size - msize, b.ptr + msize, b.small, seg, mapped=False)
            rest.prev, rest.next = b, b.next
            if b.next is not None:
                b.next.prev = rest
            b.next = rest
            b.size = msize
            pool.unmapped.add(rest)
        self._try_merge(b, b.prev, pool)
        self._try_merge(b, b.next, pool)
        pool.blocks.add(b)
        self._reserve(msize)
        return True

    def _unmap_block(self, pool: _Pool, b: Block) -> None:
        """``unmap_block`` / ``ExpandableSegment::unmap``: unmap the whole pages inside a free block."""
        seg = b.segment
        page = seg.page
        begin = -(-(b.ptr - seg.base) // page)
        end = (b.ptr + b.size - seg.base) // page
        if begin >= end:
            return
        seg.mapped.difference_update(range(begin, end))
        pool.blocks.remove(b)
        uptr, usize = seg.base + begin * page, (end - begin) * page
        before = uptr - b.ptr
        if before > 0:
            bf = Block(before, b.ptr, b.small, seg)
            bf.prev, bf.next = b.prev, b
            if b.prev is not None:
                b.prev.next = bf
            b.prev = bf
            pool.blocks.add(bf)
        after = b.size - before - usize
        if after > 0:
            af = Block(after, uptr + usize, b.small, seg)
            af.prev, af.next = b, b.next
            if b.next is not None:
                b.next.prev = af
            b.next = af
            pool.blocks.add(af)
        b.ptr, b.size, b.mapped = uptr, usize, False
        self._try_merge(b, b.prev, pool)
        self._try_merge(b, b.next, pool)
        pool.unmapped.add(b)
        self.stats.reserved -= usize
        self.stats.num_device_free += 1

    # ------------------------------------------------------------------ inspection
    def cached_free_bytes(self) -> int:
        """Reserved but not allocated (what ``memory_reserved - memory_allocated`` reports)."""
        return self.stats.reserved - self.stats.allocated


# ============================================================================ replay of traces

ALLOC, FREE = 1, 0


@dataclass
class ReplayResult:
    ok: bool
    max_allocated: int
    max_reserved: int
    max_requested: int
    oom_at: int | None  # index of the event that failed
    reserved_at_max_allocated: int
    num_alloc_retries: int
    phase_max: dict[str, tuple[int, int]]  # phase -> (max allocated, max reserved) within it


def replay(
    events: Iterable[tuple], config: AllocatorConfig | None = None, limit_from_phase: str | None = None
) -> ReplayResult:
    """Replay ``(ALLOC, key, nbytes)`` / ``(FREE, key, 0)`` events (``("phase", name, 0)`` marks a phase).

    Zero-byte allocations are skipped (``allocate(0)`` never reaches ``malloc``).  An ``OutOfMemory``
    stops the replay and is reported through ``ok`` / ``oom_at``.  With ``limit_from_phase``, the
    config's ``memory_limit`` is only set when that phase begins (a fraction set mid-run)."""
    alloc = CachingAllocator(config)
    if limit_from_phase is not None:
        alloc.set_memory_limit(None)
    st = alloc.stats
    live: dict = {}
    phase = "init"
    phase_max: dict[str, list[int]] = {phase: [0, 0]}
    res_at_max = 0
    for i, (op, key, nbytes) in enumerate(events):
        if op == ALLOC:
            if nbytes == 0:
                continue
            prev_max = st.max_allocated
            try:
                live[key] = alloc.malloc(nbytes)
            except OutOfMemory:
                return ReplayResult(
                    False, st.max_allocated, st.max_reserved, st.max_requested, i, res_at_max,
                    st.num_alloc_retries, {k: (v[0], v[1]) for k, v in phase_max.items()},
                )  # fmt: skip
            if st.max_allocated > prev_max:
                res_at_max = st.reserved
            pm = phase_max[phase]
            pm[0] = max(pm[0], st.allocated)
            pm[1] = max(pm[1], st.reserved)
        elif op == FREE:
            b = live.pop(key, None)
            if b is not None:
                alloc.free(b)
        elif op == "phase":
            phase = key
            if phase == limit_from_phase:
                alloc.set_memory_limit(alloc.cfg.memory_limit)
            pm = phase_max.setdefault(phase, [0, 0])
            pm[0] = max(pm[0], st.allocated)
            pm[1] = max(pm[1], st.reserved)
    return ReplayResult(
        True, st.max_allocated, st.max_reserved, st.max_requested, None, res_at_max,
        st.num_alloc_retries, {k: (v[0], v[1]) for k, v in phase_max.items()},
    )  # fmt: skip


def smallest_limit(
    events: list[tuple],
    expandable_segments: bool = False,
    lo: int | None = None,
    hi: int | None = None,
    step: int = K_SMALL_BUFFER,
    limit_from_phase: str | None = None,
) -> tuple[int, int]:
    """Smallest ``set_per_process_memory_fraction`` limit (bytes, a multiple of ``step``) under which the
    replay succeeds, by bisection; returns ``(smallest that works, largest that fails)``.

    Reserved memory only moves in 2 MiB multiples (every segment and page size is one), so the answer
    is exact at ``step`` = 2 MiB if success is monotone in the limit.  Default bounds: the unlimited
    run's max allocated (cannot succeed below it) and max reserved (always succeeds there)."""
    base = replay(events, AllocatorConfig(expandable_segments=expandable_segments))
    if not base.ok:
        raise ValueError("the trace fails without a limit")
    lo_k = (lo if lo is not None else base.max_allocated) // step - 1
    hi_k = -(-(hi if hi is not None else base.max_reserved) // step)

    def works(k: int) -> bool:
        cfg = AllocatorConfig(expandable_segments=expandable_segments, memory_limit=k * step)
        return replay(events, cfg, limit_from_phase).ok

    if works(lo_k):
        return lo_k * step, (lo_k - 1) * step
    while not works(hi_k):  # not monotone beyond max_reserved would be a surprise: widen
        hi_k += max(1, hi_k // 16)
    while hi_k - lo_k > 1:
        mid = (lo_k + hi_k) // 2
        if works(mid):
            hi_k = mid
        else:
            lo_k = mid
    return hi_k * step, lo_k * step
