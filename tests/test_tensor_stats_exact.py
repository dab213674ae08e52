"""Tensor summary statistics in bounded memory (tracker_core/tensor_stats.py, DESIGN.md
section 4): bit-equal to the previous copy-and-partition method (tests/helpers_stats_reference.py)
and to numpy's own functions over the finite values, for many dtypes, layouts and edge
cases; the bfloat16 blob streamed by np.save; scratch memory; no snapshot copy needed."""
from __future__ import annotations

import io
import math
import tracemalloc

import numpy as np
import pytest

import tracker_core as tc
from tracker_core.summary_view import leaves_of
from tracker_core.tensor_blob import Float32FromBfloat16
from tracker_core.tensor_stats import bfloat16_stats
from tracker_core.values import SMALL_MAX, convert_summary_value, summary_leaf_value, tensor_stats

from .helpers_stats_reference import reference_stats

PCTS = [10, 25, 50, 75, 90]
STATS = ("min", "max", "mean", "var", "std", "10%", "25%", "50%", "75%", "90%")


def identical(a, b):
    """Bit-equal dicts: same keys, types and values; NaN equals NaN. -0.0 == 0.0 (numpy's
    sort leaves the order of the two zeros unspecified, so neither method can promise it)."""
    assert list(a) == list(b)
    for k in a:
        x, y = a[k], b[k]
        assert type(x) is type(y), (k, x, y)
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (k, x, y)


def check(x):
    got = tensor_stats(x, "numpy.ndarray", str(x.dtype))
    identical(got, reference_stats(x, "numpy.ndarray", str(x.dtype)))
    flat = np.asarray(x).reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.view(np.uint8)
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    if finite.size:  # numpy's own functions, exactly (var: the summation order differs)
        f64 = finite.astype(np.float64)
        assert [got["min"], got["max"]] == [float(f64.min()), float(f64.max())]
        assert [got[f"{p}%"] for p in PCTS] == np.percentile(f64, PCTS).tolist()
        with np.errstate(over="ignore", invalid="ignore"):
            assert got["mean"] == float(np.mean(finite, dtype=np.float64)) or math.isnan(got["mean"])
            if math.isfinite(got["var"]):
                assert got["var"] == pytest.approx(float(np.var(f64)), rel=1e-9, abs=1e-300)
    return got


def _random(dtype, n, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(n) < 0.3
    if dtype.kind == "f":
        top = {2: 4, 4: 30, 8: 200}[dtype.itemsize]
        with np.errstate(over="ignore"):
            return (rng.standard_normal(n) * 10.0 ** rng.uniform(-top, top, n)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)


DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [SMALL_MAX + 1, 4097, 8192 * 3, 65536 + 1, 200_003])
def test_random_values_all_layouts(dtype, n):
    rng = np.random.default_rng(n)
    x = _random(dtype, n, rng)
    before = x.copy()
    check(x)
    check(x[::3])  # strided 1-d
    check(x.astype(x.dtype.newbyteorder(">")))  # non-native byte order
    m = n - n % 7
    check(x[:m].reshape(7, -1).T)  # 2-d, not contiguous
    check(x[:m - m % 14].reshape(2, 7, -1).transpose(2, 0, 1))  # 3-d, permuted
    assert np.array_equal(x, before)  # never reordered
    if x.dtype.kind == "f":
        y = x.copy()
        y[::7], y[1::11], y[2::13] = np.nan, np.inf, -np.inf
        s = check(y)
        assert (s["nan_count"], s["inf_count"]) == (int(np.isnan(y).sum()), int(np.isinf(y).sum()))
        check(y[:m].reshape(7, -1).T)


def _clustered(rng):
    """Most values in one narrow cluster, a few far away: every radix level is needed."""
    x = 1.0 + rng.random(300_000) * 1e-12
    x[:3] = [-1e300, 1e300, 5e-324]
    return x


EDGE = {
    "constant": lambda r: np.full(1000, 3.25),
    "constant_int64": lambda r: np.full(70_000, -7, np.int64),
    "constant_with_outliers": lambda r: np.concatenate([np.full(200_000, 3.0), [-1.0, 5.0]]),
    "all_nan": lambda r: np.full(100, np.nan),
    "all_nonfinite_f32": lambda r: np.array([np.inf, -np.inf, np.nan] * 20, np.float32),
    "only_inf_and_one_value": lambda r: np.array([np.inf] * 50 + [2.0] + [-np.inf] * 50),
    "signed_zeros": lambda r: np.array([-0.0, 0.0] * 40),
    "zeros_and_neg_values": lambda r: np.concatenate([np.zeros(50), -np.zeros(50), -r.random(50)]),
    "huge_range": lambda r: np.array([-1.7e308, 1.7e308] * 30),
    "huge_range_f32": lambda r: np.array([-3.4e38, 3.4e38] * 30, np.float32),
    "subnormals": lambda r: r.integers(-5, 5, 5000) * 5e-324,
    "float16_with_inf": lambda r: np.array([65504, -65504, np.inf, 1e-7, -0.0] * 20, np.float16),
    "int64_extremes": lambda r: np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1] * 20),
    "uint64_above_2_63": lambda r: np.array([2**64 - 1, 2**63, 2**63 - 1, 0] * 20, np.uint64),
    "clustered": _clustered,
    "clustered_wide": lambda r: np.concatenate([[-1e300, 1e300], 1 + r.random(300_000) * 2.0**-20]),
    "long_strided_rows": lambda r: r.standard_normal((3, 300_001))[:, ::2],
    "empty_inner_dim": lambda r: np.zeros((40, 0)),
    "clustered_f32": lambda r: np.clip(_clustered(r), -3e38, 3e38).astype(np.float32),
    "many_equal_floats": lambda r: r.integers(0, 3, 300_000).astype(np.float32) / 3,
    "bool_all_true": lambda r: np.ones(100, bool),
    "masked_like_nan_tail": lambda r: np.concatenate([r.standard_normal(70_000), np.full(70_000, np.nan)]),
}


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # np.percentile of +-1.7e308
@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases(name):
    x = EDGE[name](np.random.default_rng(5))
    check(x)
    check(x[::-1])


def test_variance_overflow_gives_inf_not_an_error():
    x = np.resize([1e151, -1e151], 30 * 65536)  # every partial sum finite, their sum is not
    s = tensor_stats(x, "numpy.ndarray", "float64")
    assert s["mean"] == 0.0 and s["var"] == math.inf and s["std"] == math.inf
    with np.errstate(over="ignore"):
        assert np.var(x) == math.inf  # numpy agrees


def test_other_numpy_buffer_size_keeps_the_mean_exact():
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(150_000) * 10.0 ** rng.uniform(-20, 20, 150_000)).astype(np.float32)
    x[::5] = np.nan  # the mean is then summed in pieces of the finite values
    old = np.setbufsize(10_000)
    try:
        identical(tensor_stats(x, "numpy.ndarray", "float32"), reference_stats(x, "numpy.ndarray", "float32"))
    finally:
        np.setbufsize(old)


# -- bfloat16 -----------------------------------------------------------------------------------

def _bits(t):
    torch = pytest.importorskip("torch")
    return t.view(torch.int16).numpy().view(np.uint16)


@pytest.mark.parametrize("case", ["randn", "wide", "nonfinite", "transposed", "strided", "all_nan", "constant"])
def test_bfloat16_stats_equal_those_of_float32(case):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(3)
    t = (torch.randn(300, 700, generator=g) * 10).to(torch.bfloat16)
    if case == "wide":
        t = (torch.randn(90_001, generator=g) * torch.exp(torch.randn(90_001, generator=g) * 40)).to(torch.bfloat16)
    elif case == "nonfinite":
        t[::3, ::7], t[1::5] = float("nan"), float("-inf")
        t[2, 2] = float("inf")
    elif case == "transposed":
        t = t.T
    elif case == "strided":
        t = t[::2, 1::3]
    elif case == "all_nan":
        t = torch.full((40,), float("nan"), dtype=torch.bfloat16)
    elif case == "constant":
        t = torch.full((1000,), -2.5, dtype=torch.bfloat16)
    f32 = t.float().numpy()
    got = bfloat16_stats(_bits(t), "torch.Tensor", "torch.bfloat16")
    identical(got, reference_stats(f32, "torch.Tensor", "torch.bfloat16"))
    s, blob = convert_summary_value(t, "w")  # the public form: a float32 copy
    identical(s, got)
    assert blob.dtype == np.float32 and np.array_equal(blob, f32, equal_nan=True)


@pytest.mark.parametrize("case", ["contiguous", "transposed", "strided", "permuted3d"])
def test_bfloat16_blob_bytes_equal_np_save_of_float32(case, tmp_path):
    torch = pytest.importorskip("torch")
    t = torch.randn(5, 64, 70, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    t = {"contiguous": t, "transposed": t[0].T, "strided": t[:, ::3, 1::2], "permuted3d": t.permute(2, 0, 1)}[case]
    expected = io.BytesIO()
    np.save(expected, t.float().numpy(), allow_pickle=False)
    lazy = Float32FromBfloat16(_bits(t))
    got = io.BytesIO()
    np.save(got, lazy, allow_pickle=False)  # as the PostgreSQL store does
    assert got.getvalue() == expected.getvalue()
    np.save(tmp_path / "w", lazy)  # as np.save on a path does: ".npy" appended
    assert (tmp_path / "w.npy").read_bytes() == expected.getvalue()
    assert (lazy.shape, lazy.dtype) == (tuple(t.shape), np.dtype(np.float32))
    assert np.array_equal(lazy, t.float().numpy())  # other numpy functions: the float32 array


def test_ml_dtypes_bfloat16_uses_the_bit_path():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.random.default_rng(2).standard_normal(1000).astype(ml_dtypes.bfloat16)
    s, blob = summary_leaf_value(x, "w")
    assert isinstance(blob, Float32FromBfloat16)
    identical(s, reference_stats(x.astype(np.float32), "numpy.ndarray", "bfloat16"))


# -- the blob: no snapshot copy, written before the write returns --------------------------------

def test_mutating_the_tensor_after_the_summary_write_does_not_change_the_blob(store_dir):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal(100_000).astype(np.float32)
    t32 = torch.randn(300, 400, generator=torch.Generator().manual_seed(4))
    tbf = t32.to(torch.bfloat16)
    expected = {"np": x.copy(), "t32": t32.numpy().copy(), "bf16": tbf.float().numpy()}
    run = tc.init(project="tensors", id="mutate_after_write")
    run.summary["np"] = x
    run.summary["t32"] = t32
    run.summary["bf16"] = tbf
    x[:] = 0  # in-place updates right after the write (weights during training)
    t32.mul_(0)
    tbf.fill_(1)
    for k, e in expected.items():
        assert np.array_equal(run.summary.load_tensor(k), e), k
    assert run.summary["bf16"]["max"] == float(expected["bf16"].max())
    run.finish()
    r = tc.Api().run(run.path)
    for k, e in expected.items():
        assert np.array_equal(r.summary.load_tensor(k), e), k


def test_summary_write_scratch_memory_is_small(tmp_path):
    """Stats + blob write of a summary allocate a small fraction of the tensor (no copy)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4_000_000).astype(np.float32)
    cases = [x, np.where(np.arange(x.size) % 1000 == 0, np.float32(np.nan), x), x.astype(np.float64)]
    try:
        import torch

        cases.append(torch.from_numpy(x).to(torch.bfloat16))
    except ImportError:
        pass

    def put_blob(name, arr):
        with open(tmp_path / (name + ".npy"), "wb") as f:
            np.save(f, arr, allow_pickle=False)

    for arr in cases:
        nbytes = arr.nbytes if isinstance(arr, np.ndarray) else 2 * arr.numel()
        leaves_of(("w",), arr[:1000], put_blob)  # imports and other one-time allocations
        tracemalloc.start()
        try:
            leaves_of(("w",), arr, put_blob)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 0.25 * nbytes, (str(getattr(arr, "dtype", "")), peak / nbytes)
