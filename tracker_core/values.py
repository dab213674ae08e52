"""Turn user values (Python, numpy, torch, TensorFlow, JAX) into JSON-like data (DESIGN.md section 4).

* ``convert_log_value``: a value given to ``run.log()`` -> what history stores. Arrays of
  more than ``SMALL_MAX`` elements become a 32-bin histogram over their finite values.
* ``convert_summary_value``: a value written to the summary -> (data, full array or None).
  Arrays of more than ``SMALL_MAX`` elements become the stats dict and the full array is
  handed back so the caller can store it losslessly as a blob.
* ``tensor_stats`` / ``histogram`` / ``array_info``: the building blocks, also public.

No ML framework is imported here: a torch/TF/JAX value is recognised by the module of its
type, and the framework is taken from ``sys.modules`` (it must already be loaded, since
the value exists). Plain Python scalars return at once: ``log()`` is on the training
thread and must stay cheap.

Choices where DESIGN.md is silent: complex numbers, bytes, sets, datetimes, Decimal/Fraction
and pandas objects are rejected (TypeError) rather than silently reshaped; subclasses of
int/float/str (IntEnum, StrEnum) become their plain value; str/object arrays are accepted
up to SMALL_MAX elements (as lists); masked entries of a masked array count as NaN; empty
arrays become empty lists; inside a list, a large array becomes a histogram (log) or a
stats dict without blob (summary). float16 histograms are binned in float32.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any


class _LazyNumpy:
    """numpy, imported on first use: ``import tracker_core`` stays fast, and plain Python
    values never need it. The first attribute access swaps the real module in."""

    def __getattr__(self, name: str) -> Any:
        import numpy

        globals()["np"] = numpy
        return getattr(numpy, name)


np: Any = _LazyNumpy()

SMALL_MAX = 32  # arrays of up to this many elements become (nested) lists
HIST_BINS = 32
_PERCENTILES = (10, 25, 50, 75, 90)
_STAT_KEYS = ("min", "max", "mean", "var", "std") + tuple(f"{p}%" for p in _PERCENTILES)
_CHUNK = 1 << 16  # elements per float64 chunk in the variance pass (512 KiB of scratch)
_PLAIN = frozenset((int, float, str, bool, type(None)))
_EXPECTED = "(expected a number, str, bool, None, list, dict, numpy/torch/tensorflow/jax array)"
_LOG, _SUMMARY, _NESTED = 0, 1, 2  # conversion modes; _NESTED: summary value inside a list
_INNER = (_LOG, _NESTED, _NESTED)  # mode of the items of a list/dict, by the container's mode


class _Unsupported(TypeError):
    """Raised where a value is rejected; the public functions turn it into one message that
    names the top-level key and the path inside lists/dicts."""

    def __init__(self, what: str, reason: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.reason = reason
        self.path: list[object] = []


def _type_name(value: object) -> str:
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _error(key: str, verb: str, err: _Unsupported) -> TypeError:
    where = " (at " + "".join(f"[{p!r}]" for p in err.path) + ")" if err.path else ""
    reason = f": {err.reason}" if err.reason else ""
    return TypeError(
        f"tracker_core: cannot {verb} key {key!r}{where}: value of type {err.what} "
        f"is not supported {_EXPECTED}{reason}"
    )


def convert_log_value(value: Any, key: str) -> Any:
    """Value logged with run.log() -> JSON-like data for history (see module docstring).

    Raises TypeError naming the key and the type for values that cannot be stored."""
    if type(value) in _PLAIN:  # the common case: one set lookup
        return value
    try:
        return _convert(value, _LOG)[0]
    except _Unsupported as err:
        raise _error(key, "log", err) from None


def convert_summary_value(value: Any, key: str) -> tuple[object, np.ndarray | None]:
    """Value written to the summary -> (data, full array to store as a blob, or None).

    Like convert_log_value, except that arrays of more than SMALL_MAX elements become the
    stats dict and come back whole (dtype and shape kept, bfloat16 as exact float32)."""
    if type(value) in _PLAIN:
        return value, None
    try:
        return _convert(value, _SUMMARY)
    except _Unsupported as err:
        raise _error(key, "set summary", err) from None


def _convert(v: Any, mode: int) -> tuple[object, np.ndarray | None]:
    t = type(v)
    if t in _PLAIN:
        return v, None
    if isinstance(v, (list, tuple)):  # tuples (incl. torch.Size, namedtuples) become lists
        return _convert_seq(v, mode), None
    if isinstance(v, Mapping):
        return _convert_map(v, mode), None
    if isinstance(v, np.generic):  # before int/float/str: np.float64 and np.str_ subclass them
        k = v.dtype.kind
        if k in "biuU" or (k == "f" and v.dtype.itemsize <= 8):
            return v.item(), None  # np.float32(0.1) -> 0.10000000149011612, exact
        if k in "fV":  # long double; ml_dtypes scalars (bfloat16, float8) -> via float32
            arr, _, dtype_name, _ = _array(np.asarray(v))  # type: ignore[misc]
            return _convert_array(arr, "numpy.ndarray", dtype_name, True, mode)
        raise _Unsupported(_type_name(v))  # complex, bytes, datetime64, ...
    # Subclasses of the plain types (IntEnum, StrEnum, ...) are stored as their plain value.
    if isinstance(v, int):
        return int(v), None
    if isinstance(v, float):
        return float(v), None
    if isinstance(v, str):
        return str.__str__(v), None
    try:
        if t.__module__.startswith("torch"):
            # Hot path: a one-element tensor (a loss) logged every step. .item() is ~30x cheaper
            # than the numpy route and gives the same number (bfloat16 0.1 -> 0.10009765625).
            torch = sys.modules.get("torch")
            if (torch is not None and isinstance(v, torch.Tensor) and v.numel() == 1
                    and not v.is_complex() and not v.is_quantized):
                return v.item(), None
        info = _array(v)
    except Exception as e:  # e.g. a JAX tracer inside jit, a symbolic TF tensor, a meta tensor
        raise _Unsupported(_type_name(v), f"{type(e).__name__}: {str(e)[:200]}") from e
    if info is None:
        raise _Unsupported(_type_name(v))
    return _convert_array(*info, mode)


def _convert_seq(seq: list | tuple, mode: int) -> list:
    out = []
    for i, item in enumerate(seq):
        if type(item) in _PLAIN:
            out.append(item)
            continue
        try:
            out.append(_convert(item, _INNER[mode])[0])
        except _Unsupported as err:
            err.path.insert(0, i)
            raise
    return out


def _convert_map(m: Mapping, mode: int) -> dict:
    out = {}
    for k, item in m.items():
        try:
            out[k if type(k) is str else str(k)] = _convert(item, _INNER[mode])[0]
        except _Unsupported as err:
            err.path.insert(0, k)
            raise
    return out


def array_info(value: Any) -> tuple[np.ndarray, str, str] | None:
    """(numpy array, _type name, dtype name) for a numpy/torch/TF/JAX array or tensor, else None.

    bfloat16 and other dtypes numpy cannot compute with come back as exact float32."""
    info = _array(value)
    return None if info is None else info[:3]


def _array(v: Any) -> tuple[np.ndarray, str, str, bool] | None:
    """Like array_info, plus `owned`: True when the array cannot alias memory the user may
    still mutate (so the summary blob need not be copied before it is written)."""
    if isinstance(v, np.ndarray):
        arr, type_name, dtype_name, owned = np.asarray(v), "numpy.ndarray", str(v.dtype), False
        if isinstance(v, np.ma.MaskedArray) and v.dtype.kind in "biuf" and np.ma.is_masked(v):
            # Masked entries are missing values: NaN (counted in nan_count), not their data.
            arr, owned = (v if v.dtype.kind == "f" else v.astype(np.float64)).filled(np.nan), True
    else:
        mod = type(v).__module__
        if mod.startswith("torch"):
            got = _from_torch(v)
        elif mod.startswith(("jax", "jaxlib")):
            jax = sys.modules.get("jax")
            got = None
            if jax is not None and isinstance(v, jax.Array):
                got = np.asarray(v), "jax.Array", str(v.dtype), True  # JAX arrays are immutable
        elif mod.startswith("tensorflow") and callable(getattr(v, "numpy", None)) and hasattr(v, "dtype"):
            # Eager tensors and variables. str(tf.float32) is "<dtype: 'float32'>"; the
            # dtype's .name is the readable form. Not owned: a tf.Variable can be assigned.
            got = np.asarray(v.numpy()), "tensorflow.Tensor", getattr(v.dtype, "name", str(v.dtype)), False
        else:
            got = None
        if got is None:
            return None
        arr, type_name, dtype_name, owned = got
    if arr.dtype.kind == "V" and arr.dtype.fields is None:
        # ml_dtypes (bfloat16, float8, int4) from JAX/TF: numpy math cannot use them, and
        # float32 holds every such value exactly.
        try:
            arr, owned = arr.astype(np.float32), True
        except (TypeError, ValueError):
            pass
    return arr, type_name, dtype_name, owned


def _from_torch(v: Any) -> tuple[np.ndarray, str, str, bool] | None:
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(v, torch.Tensor):
        return None  # torch.Size, torch.dtype, ...: handled (or rejected) elsewhere
    t = v.detach()  # requires_grad tensors cannot be turned into numpy otherwise
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.is_quantized:
        t = t.dequantize()
    owned = t.device.type != "cpu"  # .cpu() of a GPU tensor is a fresh copy
    t = t.cpu().resolve_conj().resolve_neg()
    if t.dtype.is_floating_point and t.dtype not in (torch.float16, torch.float32, torch.float64):
        t, owned = t.float(), True  # bfloat16 / float8: exact in float32, unknown to numpy
    return t.numpy(), "torch.Tensor", str(v.dtype), owned


def _numeric(arr: np.ndarray) -> np.ndarray | None:
    """arr with a dtype that converts exactly to Python numbers, or None (complex, str, ...)."""
    k = arr.dtype.kind
    if k in "biu" or (k == "f" and arr.dtype.itemsize <= 8):
        return arr
    if k == "f":
        return arr.astype(np.float64)  # long double: nearest float64, like float(x)
    return None


def _convert_array(
    arr: np.ndarray, type_name: str, dtype_name: str, owned: bool, mode: int
) -> tuple[object, np.ndarray | None]:
    num = _numeric(arr)
    if num is None:
        if arr.dtype.kind in "UO" and arr.size <= SMALL_MAX:
            # Small str/object arrays: convert the Python objects inside one by one.
            items = arr.reshape(-1).tolist() if arr.size == 1 else arr.tolist()
            return _convert(items[0] if arr.size == 1 else items, mode)[0], None
        too_big = f" and more than {SMALL_MAX} elements" if arr.dtype.kind in "UO" else ""
        raise _Unsupported(f"{type_name} with dtype {dtype_name}{too_big}")
    if num.size <= SMALL_MAX:
        if num.size == 1:  # 0-d, [x], [[x]], ...: a scalar
            return num.reshape(-1).tolist()[0], None
        return num.tolist(), None  # nested lists; ints stay ints, floats exact
    if mode == _LOG:
        return histogram(num), None
    stats = tensor_stats(num, type_name, dtype_name)
    if mode == _NESTED:
        return stats, None  # only a top-level summary leaf has a blob
    # Snapshot: the caller may write the blob later, and the user may mutate the array
    # in place meanwhile (weights during training). Copied after the stats, to keep the
    # peak memory low.
    return stats, (arr if owned else np.array(arr, copy=True))


def _finite(flat: np.ndarray) -> tuple[np.ndarray, int, int, Any, Any]:
    """(finite values, nan_count, inf_count, min, max) of a 1-d array; min/max are None
    when they were not computed. Copies only when there is something to drop."""
    if flat.dtype.kind != "f" or flat.size == 0:
        return flat, 0, 0, None, None
    with np.errstate(invalid="ignore"):
        lo, hi = flat.min(), flat.max()  # NaN propagates, +-inf would be an extreme
    if np.isfinite(lo) and np.isfinite(hi):
        return flat, 0, 0, lo, hi  # the common case: no mask, no copy
    finite = flat[np.isfinite(flat)]
    nan_count = int(np.count_nonzero(np.isnan(flat)))
    return finite, nan_count, flat.size - finite.size - nan_count, None, None


def _flat(arr: np.ndarray) -> np.ndarray:
    num = _numeric(np.asarray(arr))
    if num is None:
        raise TypeError(f"tracker_core: arrays of dtype {arr.dtype} have no statistics")
    flat = num.reshape(-1)
    return flat.view(np.uint8) if flat.dtype.kind == "b" else flat


def histogram(arr: np.ndarray) -> dict:
    """{"_type": "histogram", "values": [32 counts], "bins": [33 edges]} over the finite
    values (np.histogram(finite, bins=32)), plus "nan_count"/"inf_count" when non-zero."""
    flat = _flat(arr)
    if flat.dtype == np.float16:
        flat = flat.astype(np.float32)  # float16 edges would be too coarse (1.219 for 1.21875)
    finite, nan_count, inf_count, lo, hi = _finite(flat)
    with np.errstate(over="ignore", invalid="ignore"):
        if lo is None and finite.size:
            lo, hi = finite.min(), finite.max()
        if finite.size and finite.dtype.kind == "f" and not np.isfinite(hi - lo):
            # The range overflows the dtype (e.g. -1e308..1e308): numpy raises. Place the
            # edges by weights instead of by a step, in float64, which cannot overflow.
            w = np.linspace(0.0, 1.0, HIST_BINS + 1)
            edges = float(lo) * (1.0 - w) + float(hi) * w
            counts = np.histogram(finite, bins=edges)[0]
        else:
            counts, edges = np.histogram(finite, bins=HIST_BINS)
    out: dict[str, Any] = {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    if nan_count:
        out["nan_count"] = nan_count
    if inf_count:
        out["inf_count"] = inf_count
    return out


def tensor_stats(arr: np.ndarray, type_name: str, dtype_name: str) -> dict:
    """The stats dict of DESIGN.md section 4, in float64 over the finite values.

    Equal to numpy's np.min/max/mean/var(ddof=0)/std/percentile (linear) of the finite
    values as float64, without their memory cost: no float64 copy of the array, one copy
    at most (in the array's own dtype) that is partitioned in place."""
    arr = np.asarray(arr)
    out: dict[str, Any] = {
        "_type": type_name,
        "shape": [int(d) for d in arr.shape],
        "dtype": dtype_name,
        "size": int(arr.size),
    }
    finite, nan_count, inf_count, lo, hi = _finite(_flat(arr))
    n = int(finite.size)
    if n == 0:
        out.update(dict.fromkeys(_STAT_KEYS))
    else:
        if lo is None:
            lo, hi = finite.min(), finite.max()
        with np.errstate(over="ignore", invalid="ignore"):
            # Same summation as np.mean(x, dtype=float64): pairwise, casting in buffers.
            mean = float(np.add.reduce(finite, dtype=np.float64)) / n
            # np.var would allocate a float64 copy of the whole array for x - mean;
            # do the same two-pass arithmetic in chunks and add the partial sums exactly.
            parts = []
            for i in range(0, n, _CHUNK):
                d = finite[i : i + _CHUNK].astype(np.float64)
                d -= mean
                np.multiply(d, d, out=d)
                parts.append(float(np.add.reduce(d)))
            var = math.fsum(parts) / n
        std = math.sqrt(var)  # var >= 0 or NaN/inf after an overflow; sqrt passes those on
        if np.may_share_memory(finite, arr):
            finite = finite.copy()  # never reorder the caller's data
        out.update(min=float(lo), max=float(hi), mean=mean, var=var, std=std)
        out.update(zip(_STAT_KEYS[5:], _percentiles(finite, n)))
    out["nan_count"] = nan_count
    out["inf_count"] = inf_count
    return out


def _percentiles(work: np.ndarray, n: int) -> list[float]:
    """numpy's default (linear) percentiles of `work`, which is partitioned in place.

    Replicates numpy's arithmetic: virtual index (n-1)*q, neighbours floor/floor+1,
    gamma = index - floor, and _lerp (a + d*g, or b - d*(1-g) when g >= 0.5). Converting
    to float64 after the partition gives the same order statistics as before it, since
    the conversion is monotonic."""
    vidx = [(n - 1) * (p / 100) for p in _PERCENTILES]
    below = [math.floor(v) for v in vidx]
    work.partition(sorted({min(i, n - 1) for b in below for i in (b, b + 1)}))
    result = []
    for v, b in zip(vidx, below):
        if v >= n - 1:  # numpy takes the last element
            result.append(float(work[n - 1]))
            continue
        a, c, g = float(work[b]), float(work[b + 1]), v - b
        d = c - a
        result.append(c - d * (1.0 - g) if g >= 0.5 else a + d * g)
    return result
