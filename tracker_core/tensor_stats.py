"""The stats dict of a tensor summary (DESIGN.md section 4) in small, bounded scratch memory.

``numeric_stats`` and ``bfloat16_stats`` give exactly the numbers of the straightforward
method (numpy's min/max, ``np.mean(x, dtype=float64)``, the two-pass variance summed in
``_CHUNK`` pieces, linear ``np.percentile``, all over the finite values), but never copy
the whole tensor: every pass reads it in pieces of at most ``_CHUNK`` elements.

* Percentiles by radix selection: the values are mapped to order-preserving unsigned keys
  piece by piece; a histogram of the leading 16 key bits locates the bucket that holds
  each needed order statistic; only those buckets' elements are gathered and sorted (or,
  when a bucket is large, the next 16 bits are counted in it). Dtypes of at most 16 bits
  (bool, int8/16, float16, bfloat16) get every order statistic from one histogram of all
  bit patterns, which also gives min, max and the NaN/inf counts.
* The mean reproduces numpy's summation order: a cast to float64 (float32, ints, ...)
  sums buffers of ``np.getbufsize()`` elements one after the other, so the pieces are
  chained with ``initial=``; native float64 is summed pairwise over the whole array, so
  the same recursion is followed down to subtrees of at most ``_CHUNK`` elements.
* bfloat16 tensors are read as their uint16 bit patterns (``tensor_blob.py`` writes their
  float32 blob piece by piece).

Zeros: -0.0 sorts before 0.0 here, while numpy's sort leaves their order unspecified, so
a percentile of exactly zero may differ from np.percentile's in the sign of the zero only.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterable, Iterator

import numpy as np

PERCENTILES = (10, 25, 50, 75, 90)
STAT_KEYS = ("min", "max", "mean", "var", "std") + tuple(f"{p}%" for p in PERCENTILES)
# Pieces of the variance pass. The partial sums depend on it: changing it changes the
# last bits of "var" (math.fsum of per-piece pairwise sums).
_CHUNK = 1 << 16
_KEY_PIECE = 1 << 15  # elements per piece in the percentile passes (keys + bincount scratch)
_BF16_EXP = 0x7F80  # bfloat16 exponent bits: all set = inf or NaN


def _header(type_name: str, dtype_name: str, shape: tuple, size: int) -> dict:
    return {"_type": type_name, "shape": [int(d) for d in shape], "dtype": dtype_name, "size": int(size)}


def numeric_stats(arr: np.ndarray, type_name: str, dtype_name: str) -> dict:
    """The stats dict of a numeric (bool, int, uint, float16/32/64) array of any layout."""
    out = _header(type_name, dtype_name, arr.shape, arr.size)
    raw = arr.view(np.uint8) if arr.dtype.kind == "b" else arr
    native = raw.dtype.newbyteorder("=")
    if raw.dtype.itemsize <= 2:
        src = _Values(raw, native, None, _pattern_finite(native))
        return _finish(out, src, *_pattern_stats(src))
    nan = inf = 0
    src = _Values(raw, native, None, np.isfinite if native.kind == "f" else None)
    if raw.size:
        with np.errstate(invalid="ignore"):
            lo, hi = raw.min(), raw.max()  # NaN propagates; +-inf would be an extreme
        if native.kind == "f" and not (np.isfinite(lo) and np.isfinite(hi)):
            src.clean = False
            lo, hi, nan, inf = _scan_nonfinite(raw)
    n = raw.size - nan - inf
    if n == 0:
        return _finish(out, src, 0, None, nan, inf)
    lo, hi = np.asarray(lo, native)[()], np.asarray(hi, native)[()]
    kmin, kmax = (int(k) for k in _keys(np.array([lo, hi], native), 0))
    ranks = _ranks(n)
    found = _select(lambda: src.key_pieces(kmin), n, ranks, kmin, kmax)
    order = {r: _value_of_key(k, native) for r, k in found.items()}
    return _finish(out, src, n, (lo, hi, order), nan, inf)


def bfloat16_stats(bits: np.ndarray, type_name: str, dtype_name: str) -> dict:
    """The stats dict of a bfloat16 tensor given as its uint16 bit patterns (any layout),
    equal to that of its exact float32 conversion."""
    out = _header(type_name, dtype_name, bits.shape, bits.size)
    src = _Values(bits, np.dtype(np.uint16), _bf16_to_f32, lambda b: (b & _BF16_EXP) != _BF16_EXP)
    return _finish(out, src, *_pattern_stats(src))


def _finish(out: dict, src: _Values, n: int, found: tuple | None, nan: int, inf: int) -> dict:
    if n == 0 or found is None:
        out.update(dict.fromkeys(STAT_KEYS))
    else:
        lo, hi, order = found
        with np.errstate(over="ignore", invalid="ignore"):  # a huge range may overflow to inf
            mean = src.mean(n)
            var = src.var(mean, n)
        out.update(min=float(lo), max=float(hi), mean=mean, var=var, std=math.sqrt(var))
        out.update(zip(STAT_KEYS[5:], _percentiles(n, {r: float(v) for r, v in order.items()})))
    out["nan_count"] = int(nan)
    out["inf_count"] = int(inf)
    return out


def _ranks(n: int) -> list[int]:
    """The order statistics (0-based ranks) that numpy's linear percentiles read."""
    below = [math.floor((n - 1) * (p / 100)) for p in PERCENTILES]
    return sorted({min(i, n - 1) for b in below for i in (b, b + 1)})


def _percentiles(n: int, order: dict[int, float]) -> list[float]:
    """numpy's default (linear) percentiles from the order statistics of `_ranks(n)`.

    Replicates numpy's arithmetic: virtual index (n-1)*q, neighbours floor/floor+1,
    gamma = index - floor, and _lerp (a + d*g, or b - d*(1-g) when g >= 0.5)."""
    result = []
    for p in PERCENTILES:
        v = (n - 1) * (p / 100)
        b = math.floor(v)
        if v >= n - 1:  # numpy takes the last element
            result.append(order[n - 1])
            continue
        a, c, g = order[b], order[b + 1], v - b
        d = c - a
        result.append(c - d * (1.0 - g) if g >= 0.5 else a + d * g)
    return result


# -- reading a tensor in pieces ---------------------------------------------------------------

def _c_pieces(arr: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """1-d pieces of at most `size` elements of `arr` in C order, without copying the whole:
    views of a contiguous (or 1-d) array, else copies of blocks of its leading axis."""
    if arr.ndim <= 1 or arr.flags.c_contiguous:
        flat = arr.reshape(-1)
        for i in range(0, flat.size, size):
            yield flat[i : i + size]
        return
    inner = math.prod(arr.shape[1:])
    if inner == 0:
        return
    if inner <= size:
        step = size // inner
        for i in range(0, arr.shape[0], step):
            yield arr[i : i + step].reshape(-1)
    else:
        for i in range(arr.shape[0]):
            yield from _c_pieces(arr[i], size)


def _exact(pieces: Iterable[np.ndarray], sizes: Iterator[int]) -> Iterator[np.ndarray]:
    """Re-cut a stream of pieces into consecutive pieces of the given sizes (the last one may
    be short). A yielded piece may be a reused buffer: use it before asking for the next."""
    want, buf, fill = next(sizes, 0), None, 0
    for p in pieces:
        i = 0
        while i < p.size and want:
            if fill == 0 and p.size - i >= want:
                yield p[i : i + want]
                i += want
                want = next(sizes, 0)
                continue
            if buf is None or buf.size < want:  # only between pieces (fill == 0)
                buf = np.empty(want, p.dtype)
            take = min(want - fill, p.size - i)
            buf[fill : fill + take] = p[i : i + take]
            fill, i = fill + take, i + take
            if fill == want:
                yield buf[:want]
                fill, want = 0, next(sizes, 0)
    if fill:
        yield buf[:fill]


class _Values:
    """A tensor's values as pieces: `raw` (any layout), `decode` (raw piece -> values, e.g.
    bfloat16 bits -> float32; None: raw are the values) and `finite` (raw piece -> mask of
    the finite values; None: all are). `clean`: no non-finite value at all."""

    def __init__(self, raw: np.ndarray, native: np.dtype, decode: Callable | None, finite: Callable | None):
        self.raw, self.native, self.decode, self.finite = raw, native, decode, finite
        self.clean = True  # set once a non-finite value is seen

    def _pieces(self, size: int, values: bool) -> Iterator[np.ndarray]:
        for p in _c_pieces(self.raw, size):
            if p.dtype != self.native:
                p = p.astype(self.native)  # non-native byte order: the keys read the bits
            if not self.clean:
                p = p[self.finite(p)]
            yield self.decode(p) if values and self.decode is not None else p

    def key_pieces(self, kmin: int) -> Iterator[np.ndarray]:
        for p in self._pieces(_KEY_PIECE, False):
            yield _keys(p, kmin)

    def mean(self, n: int) -> float:
        """float(np.mean(finite, dtype=np.float64)) of the finite values in C order."""
        if self.clean and self.decode is None and (self.raw.ndim <= 1 or self.raw.flags.c_contiguous):
            return float(np.add.reduce(self.raw.reshape(-1), dtype=np.float64)) / n
        pieces = self._pieces(_CHUNK, True)
        if self.decode is None and self.raw.dtype == np.dtype(np.float64):  # native order only
            plan = _pairwise_plan(n, _CHUNK)
            sums = iter([float(np.add.reduce(c)) for c in _exact(pieces, iter(_leaves(plan)))])
            return (0.0 + _fold(plan, sums)) / n
        buf = np.getbufsize()  # a cast sums buffers of this many elements one after the other
        acc = 0.0
        for c in _exact(pieces, itertools.repeat(buf * max(1, _CHUNK // buf))):
            acc = np.add.reduce(c, dtype=np.float64, initial=acc)
        return float(acc) / n

    def var(self, mean: float, n: int) -> float:
        """Population variance, two-pass: the float64 squared deviations are summed per
        `_CHUNK` piece (pairwise) and the partial sums added exactly (math.fsum)."""
        parts = []
        for c in _exact(self._pieces(_CHUNK, True), itertools.repeat(_CHUNK)):
            d = c.astype(np.float64)
            d -= mean
            np.multiply(d, d, out=d)
            parts.append(float(np.add.reduce(d)))
            del d  # before the next piece's copy
        try:
            return math.fsum(parts) / n
        except OverflowError:  # finite parts whose exact sum exceeds float64
            return math.inf


def _pairwise_plan(n: int, leaf: int) -> Any:
    """numpy's pairwise summation tree of n float64 values, cut at subtrees of <= leaf."""
    if n <= leaf or n <= 128:
        return n
    n2 = n // 2
    n2 -= n2 % 8  # numpy's split: half, rounded down to its unroll factor
    return (_pairwise_plan(n2, leaf), _pairwise_plan(n - n2, leaf))


def _leaves(plan: Any) -> Iterator[int]:
    if isinstance(plan, int):
        yield plan
    else:
        yield from _leaves(plan[0])
        yield from _leaves(plan[1])


def _fold(plan: Any, sums: Iterator[float]) -> float:
    if isinstance(plan, int):
        return next(sums)
    left = _fold(plan[0], sums)
    return left + _fold(plan[1], sums)


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    out = bits.astype(np.uint32)
    out <<= 16
    return out.view(np.float32)


def _scan_nonfinite(raw: np.ndarray) -> tuple[Any, Any, int, int]:
    """(min, max of the finite values or None, nan_count, inf_count) of a float array."""
    lo = hi = None
    nan = inf = 0
    for p in _c_pieces(raw, _CHUNK):
        ok = np.isfinite(p)
        k = int(np.count_nonzero(ok))
        if k < p.size:
            n_nan = int(np.count_nonzero(np.isnan(p)))
            nan, inf = nan + n_nan, inf + p.size - k - n_nan
        if k:
            f = p[ok] if k < p.size else p
            a, b = f.min(), f.max()
            lo = a if lo is None or a < lo else lo
            hi = b if hi is None or b > hi else hi
    return lo, hi, nan, inf


# -- order statistics -------------------------------------------------------------------------

def _keys(values: np.ndarray, kmin: int) -> np.ndarray:
    """Order-preserving unsigned keys (native dtype values), minus kmin: a fresh array.
    Floats: sign bit set -> all bits flipped, else the sign bit set (-0.0 < 0.0)."""
    kind, bits = values.dtype.kind, values.dtype.itemsize * 8
    u = np.dtype(f"u{values.dtype.itemsize}").type
    if kind == "f":
        k = values.view(f"i{values.dtype.itemsize}") >> (bits - 1)  # 0, or -1 when negative
        k = k.view(u)
        k |= u(1 << (bits - 1))
        k ^= values.view(u)
    elif kind == "i":
        k = values.view(u) ^ u(1 << (bits - 1))
    else:
        k = values.astype(u)  # a copy: the caller may modify it
    if kmin:
        k -= u(kmin)
    return k


def _value_of_key(key: int, native: np.dtype) -> Any:
    bits = native.itemsize * 8
    sign = 1 << (bits - 1)
    if native.kind == "f":
        key = key ^ sign if key & sign else ~key & ((1 << bits) - 1)
    elif native.kind == "i":
        key ^= sign
    return np.array(key, f"u{native.itemsize}").view(native)[()]


def _pattern_finite(native: np.dtype) -> Callable | None:
    return np.isfinite if native.kind == "f" else None


def _pattern_stats(src: _Values) -> tuple[int, tuple | None, int, int]:
    """(n finite, (min, max, {rank: value}), nan_count, inf_count) of a dtype of at most 16
    bits, from one histogram of its bit patterns."""
    nbits = src.raw.dtype.itemsize * 8
    u = np.dtype(f"u{src.raw.dtype.itemsize}")
    hist = np.zeros(1 << nbits, np.int64)
    for p in _c_pieces(src.raw, _KEY_PIECE):
        hist += np.bincount(p.astype(src.native).view(u) if p.dtype != src.native else p.view(u),
                            minlength=1 << nbits)
    patterns = np.arange(1 << nbits, dtype=u)
    if src.decode is not None:  # bfloat16: same layout as float16 except the exponent width
        exp = patterns & _BF16_EXP
        finite, nan_p = exp != _BF16_EXP, (patterns & 0x7FFF) > _BF16_EXP
        as_values = patterns.view(np.float16)
    else:
        as_values = patterns.view(src.native)
        finite = np.isfinite(as_values) if src.native.kind == "f" else np.ones(patterns.size, bool)
        nan_p = np.isnan(as_values) if src.native.kind == "f" else ~finite
    nan = int(hist[nan_p].sum())
    inf = int(hist[~finite].sum()) - nan
    src.clean = nan + inf == 0
    hist[~finite] = 0
    keys = _keys(as_values, 0)
    cum = np.empty_like(hist)
    cum[keys] = hist
    del hist
    np.cumsum(cum, out=cum)  # by key: the number of finite values with a key <= k
    n = int(cum[-1])
    if n == 0:
        return 0, None, nan, inf
    pattern_of_key = np.empty(1 << nbits, u)
    pattern_of_key[keys] = patterns

    def value(rank: int) -> Any:
        p = int(pattern_of_key[int(np.searchsorted(cum, rank, side="right"))])
        if src.decode is not None:
            return np.array(p << 16, np.uint32).view(np.float32)[()]
        return np.array(p, u).view(src.native)[()]

    return n, (value(0), value(n - 1), {r: value(r) for r in _ranks(n)}), nan, inf


def _select(pieces: Callable[[], Iterator[np.ndarray]], n: int, ranks: list[int], kmin: int,
            kmax: int) -> dict[int, int]:
    """{rank: key} of the order statistics `ranks` among n keys in [kmin, kmax], read as
    pieces of (key - kmin) from `pieces()` (called once per pass).

    Each pass counts the next (up to) 16 bits of the keys in the groups (common key
    prefix) that hold a wanted rank, or gathers a group's keys once it is small."""
    width = (kmax - kmin).bit_length()
    if width == 0:
        return {r: kmin for r in ranks}
    gather_max = max(1 << 12, n >> 6)
    todo = {r: (r, 0, 0, n) for r in ranks}  # rank -> (rank in its group, prefix, prefix bits, group size)
    found: dict[int, int] = {}
    while todo:
        pb = next(iter(todo.values()))[2]
        w = min(16, width - pb)
        shift = width - pb - w
        big = sorted({g[1] for g in todo.values() if g[3] > gather_max})
        small = sorted({g[1] for g in todo.values() if g[3] <= gather_max})
        hists = {p: np.zeros(1 << w, np.int64) for p in big}
        table = None
        if small and 0 < pb <= 16:
            table = np.zeros(1 << pb, bool)
            table[small] = True
        cands = []
        for k in pieces():
            T = k.dtype.type
            hi = k >> T(width - pb) if pb else None
            for p in big:
                d = (k if pb == 0 else k[hi == T(p)]) >> T(shift)
                if pb:
                    d &= T((1 << w) - 1)
                hists[p] += np.bincount(d.astype(np.uint16), minlength=1 << w)
            if small:
                if pb == 0:
                    cands.append(k)
                elif table is not None:
                    cands.append(k[table[hi]])
                else:
                    cands.append(k[np.logical_or.reduce([hi == T(p) for p in small])])
        cand = np.sort(np.concatenate(cands)) if cands else None
        nxt = {}
        for r, (rank, p, _, _) in todo.items():
            if p in hists:
                cum = np.cumsum(hists[p])
                d = int(np.searchsorted(cum, rank, side="right"))
                before = int(cum[d - 1]) if d else 0
                p2, pb2 = (p << w) | d, pb + w
                if pb2 == width:
                    found[r] = p2 + kmin
                else:
                    nxt[r] = (rank - before, p2, pb2, int(hists[p][d]))
            else:
                start = int(np.searchsorted(cand, cand.dtype.type(p << (width - pb)))) if pb else 0
                found[r] = int(cand[start + rank]) + kmin
        todo = nxt
    return found
