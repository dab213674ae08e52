"""Turn user values (Python, numpy, torch, TensorFlow, JAX) into JSON-like data (DESIGN.md section 4).

* ``convert_log_value``: a value given to ``run.log()`` -> what history stores. Arrays of
  more than ``SMALL_MAX`` elements become a 32-bin histogram over their finite values.
* ``convert_summary_value``: a value written to the summary -> (data, full array or None).
  Arrays of more than ``SMALL_MAX`` elements become the stats dict and the full array is
  handed back so the caller can store it losslessly as a blob.
* ``tensor_stats`` / ``histogram`` / ``array_info``: the building blocks, also public. The
  statistics themselves live in ``tensor_stats.py`` (bounded scratch memory, exact).

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
PLAIN_TYPES = frozenset((int, float, str, bool, type(None)))  # stored as they are, no conversion
_EXPECTED = "(expected a number, str, bool, None, list, dict, numpy/torch/tensorflow/jax array)"
# Conversion modes. _SUMMARY: the blob comes back as a snapshot the caller may keep;
# _BLOB: the blob may alias the caller's tensor (it is written before the caller's write
# returns); _NESTED: a summary value inside a list (stats, no blob).
_LOG, _SUMMARY, _NESTED, _BLOB = 0, 1, 2, 3
_INNER = (_LOG, _NESTED, _NESTED, _NESTED)  # mode of the items of a list/dict, by the container's mode


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
    if type(value) in PLAIN_TYPES:  # the common case: one set lookup
        return value
    try:
        return _convert(value, _LOG)[0]
    except _Unsupported as err:
        raise _error(key, "log", err) from None


def convert_summary_value(value: Any, key: str) -> tuple[object, np.ndarray | None]:
    """Value written to the summary -> (data, full array to store as a blob, or None).

    Like convert_log_value, except that arrays of more than SMALL_MAX elements become the
    stats dict and come back whole (dtype and shape kept, bfloat16 as exact float32)."""
    if type(value) in PLAIN_TYPES:
        return value, None
    try:
        return _convert(value, _SUMMARY)
    except _Unsupported as err:
        raise _error(key, "set summary", err) from None


def summary_leaf_value(value: Any, key: str) -> tuple[object, Any]:
    """Like convert_summary_value, for a caller that writes the blob with ``np.save``
    before returning to the user (``leaves_of``): the blob is not copied (it may alias
    the user's tensor), and a bfloat16 tensor's comes back as ``Float32FromBfloat16``,
    which ``np.save`` converts piece by piece, instead of a whole float32 copy."""
    if type(value) in PLAIN_TYPES:
        return value, None
    try:
        return _convert(value, _BLOB)
    except _Unsupported as err:
        raise _error(key, "set summary", err) from None


def _convert(v: Any, mode: int) -> tuple[object, np.ndarray | None]:
    t = type(v)
    if t in PLAIN_TYPES:
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
        info = _array(v, bf16_bits=mode != _LOG)
    except Exception as e:  # e.g. a JAX tracer inside jit, a symbolic TF tensor, a meta tensor
        raise _Unsupported(_type_name(v), f"{type(e).__name__}: {str(e)[:200]}") from e
    if info is None:
        raise _Unsupported(_type_name(v))
    return _convert_array(*info, mode)


def _convert_seq(seq: list | tuple, mode: int) -> list:
    out = []
    for i, item in enumerate(seq):
        if type(item) in PLAIN_TYPES:
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


class _Bf16Bits:
    """A bfloat16 array as its uint16 bit patterns (see _array's bf16_bits)."""

    __slots__ = ("bits",)

    def __init__(self, bits: np.ndarray) -> None:
        self.bits = bits


def _array(v: Any, bf16_bits: bool = False) -> tuple[np.ndarray | _Bf16Bits, str, str, bool] | None:
    """Like array_info, plus `owned`: True when the array cannot alias memory the user may
    still mutate (so the summary blob need not be copied before it is written).

    bf16_bits: a bfloat16 array comes back as _Bf16Bits (no float32 copy yet)."""
    if isinstance(v, np.ndarray):
        arr, type_name, dtype_name, owned = np.asarray(v), "numpy.ndarray", str(v.dtype), False
        if isinstance(v, np.ma.MaskedArray) and v.dtype.kind in "biuf" and np.ma.is_masked(v):
            # Masked entries are missing values: NaN (counted in nan_count), not their data.
            arr, owned = (v if v.dtype.kind == "f" else v.astype(np.float64)).filled(np.nan), True
    else:
        mod = type(v).__module__
        if mod.startswith("torch"):
            got = _from_torch(v, bf16_bits)
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
        if type(arr) is _Bf16Bits:
            return got
    if arr.dtype.kind == "V" and arr.dtype.fields is None:
        if bf16_bits and arr.dtype.name == "bfloat16" and arr.dtype.itemsize == 2:
            return _Bf16Bits(arr.view(np.uint16)), type_name, dtype_name, owned
        # ml_dtypes (bfloat16, float8, int4) from JAX/TF: numpy math cannot use them, and
        # float32 holds every such value exactly.
        try:
            arr, owned = arr.astype(np.float32), True
        except (TypeError, ValueError):
            pass
    return arr, type_name, dtype_name, owned


def _from_torch(v: Any, bf16_bits: bool = False) -> tuple[np.ndarray | _Bf16Bits, str, str, bool] | None:
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
    if bf16_bits and t.dtype == torch.bfloat16:
        # The bits as they are (a view): statistics and the float32 blob are computed
        # from them piece by piece, never from a whole float32 copy.
        return _Bf16Bits(t.view(torch.int16).numpy().view(np.uint16)), "torch.Tensor", str(v.dtype), owned
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
    arr: np.ndarray | _Bf16Bits, type_name: str, dtype_name: str, owned: bool, mode: int
) -> tuple[object, Any]:
    if type(arr) is _Bf16Bits:
        from .tensor_blob import Float32FromBfloat16
        from .tensor_stats import bfloat16_stats

        if arr.bits.size <= SMALL_MAX or mode == _LOG:
            arr, owned = np.asarray(Float32FromBfloat16(arr.bits)), True
        else:
            stats = bfloat16_stats(arr.bits, type_name, dtype_name)
            if mode == _NESTED:
                return stats, None
            blob = Float32FromBfloat16(arr.bits)
            return stats, (blob if mode == _BLOB else np.asarray(blob))
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
    if mode == _BLOB or owned:
        return stats, arr  # _BLOB: written before the user can change it, no copy needed
    # Snapshot: the caller may write the blob later, and the user may mutate the array
    # in place meanwhile (weights during training).
    return stats, np.array(arr, copy=True)


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

    Equal to numpy's np.min/max, np.mean(x, dtype=float64), the two-pass population
    variance and np.percentile (linear) of the finite values, in a few small pieces of
    scratch memory: the array is neither copied nor reordered (see tensor_stats.py)."""
    from .tensor_stats import numeric_stats

    num = _numeric(np.asarray(arr))
    if num is None:
        raise TypeError(f"tracker_core: arrays of dtype {arr.dtype} have no statistics")
    return numeric_stats(num, type_name, dtype_name)
