"""Tests for tracker_core.values: ML framework tensors (DESIGN.md section 4): ml_dtypes,
torch, JAX, TensorFlow, and that importing the module loads none of them.

The tox envs tf/jax and .ci/run run this file in the TensorFlow/JAX environment. Plain
values and errors, numpy arrays, and stats are in test_values_plain_and_errors.py,
test_values_numpy.py and test_values_stats.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tracker_core.values import array_info, convert_log_value, convert_summary_value

from .helpers_values import H40, S40, hist, same

ROOT = Path(__file__).resolve().parents[1]


def test_ml_dtypes_bfloat16_numpy_values_become_exact_float32():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    same(convert_log_value(ml_dtypes.bfloat16(0.1), "k"), 0.10009765625, rel=0)
    same(convert_log_value(np.array([0.1, 2], dtype=ml_dtypes.bfloat16), "k"), [0.10009765625, 2.0], rel=0)
    s, blob = convert_summary_value(np.arange(40).astype(ml_dtypes.bfloat16), "w")
    assert s["dtype"] == "bfloat16" and blob.dtype == np.float32 and s["mean"] == 19.5


# --- torch --------------------------------------------------------------------------------

def test_conformance_torch_tensors():
    torch = pytest.importorskip("torch")
    same(convert_log_value(torch.tensor(0.5), "t0"), 0.5)
    same(convert_log_value(torch.tensor(0.1), "t0"), 0.10000000149011612, rel=0)
    same(convert_log_value(torch.tensor([0.25]), "t1"), 0.25)
    same(convert_log_value(torch.arange(5), "t5"), [0, 1, 2, 3, 4])
    same(convert_log_value(torch.arange(40, dtype=torch.float32), "t40"), H40)
    same(convert_log_value(torch.tensor(1.5, requires_grad=True), "tgrad"), 1.5)
    same(convert_log_value(torch.tensor(0.1, dtype=torch.bfloat16), "tbf16"), 0.10009765625, rel=0)
    same(convert_summary_value(torch.tensor(3), "s0"), (3, None))
    same(convert_summary_value(torch.arange(5) * 1.5, "s5"), ([0.0, 1.5, 3.0, 4.5, 6.0], None))
    s40, blob = convert_summary_value(torch.arange(40, dtype=torch.float64).reshape(4, 10), "s40")
    same(s40, {**S40, "_type": "torch.Tensor", "shape": [4, 10], "dtype": "torch.float64"})
    assert blob.dtype == np.float64 and blob.shape == (4, 10)
    same(convert_summary_value(torch.ones(3, requires_grad=True), "sgrad")[0], [1.0, 1.0, 1.0])


def test_torch_bfloat16_blob_is_exact_float32():
    torch = pytest.importorskip("torch")
    t = torch.randn(7, 9, dtype=torch.bfloat16, requires_grad=True)
    s, blob = convert_summary_value(t, "w")
    assert s["dtype"] == "torch.bfloat16" and s["shape"] == [7, 9]
    assert blob.dtype == np.float32 and blob.shape == (7, 9)
    assert np.array_equal(blob, t.detach().float().numpy())
    assert s["mean"] == pytest.approx(float(t.detach().double().mean()), rel=1e-12)
    same(convert_log_value(t[0, :3], "k"), t[0, :3].float().tolist())
    arr, type_name, dtype_name = array_info(t)
    assert (arr.dtype, type_name, dtype_name) == (np.float32, "torch.Tensor", "torch.bfloat16")


def test_torch_requires_grad_nan_inf_and_snapshot():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.arange(48, dtype=torch.float32).reshape(6, 8))
    s, blob = convert_summary_value(w, "w")
    assert (s["_type"], s["dtype"], s["mean"]) == ("torch.Tensor", "torch.float32", 23.5)
    with torch.no_grad():
        w.add_(1)  # an optimizer step after the write must not change the stored blob
    assert blob[0, 0] == 0.0
    h = convert_log_value(torch.tensor([float("nan"), float("inf")] + [1.0] * 40, requires_grad=True), "g")
    assert (h["nan_count"], h["inf_count"], sum(h["values"])) == (1, 1, 40)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "bool", "float16", "float8_e4m3fn", "uint16"])
def test_torch_dtypes(dtype):
    torch = pytest.importorskip("torch")
    dt = getattr(torch, dtype, None)
    if dt is None:
        pytest.skip(f"torch has no {dtype}")
    small = torch.ones(3).to(dt)
    expected = [True] * 3 if dtype == "bool" else ([1] * 3 if not dt.is_floating_point else [1.0] * 3)
    same(convert_log_value(small, "k"), expected)
    s, blob = convert_summary_value(torch.ones(40).to(dt), "k")
    assert s["dtype"] == f"torch.{dtype}" and s["mean"] == 1.0 and blob.shape == (40,)


def test_torch_sparse_complex_and_size():
    torch = pytest.importorskip("torch")
    same(convert_log_value(torch.eye(3).to_sparse(), "k"), torch.eye(3).tolist())
    same(convert_log_value(torch.Size([2, 3]), "k"), [2, 3])
    with pytest.raises(TypeError, match="torch.Tensor with dtype torch.complex64"):
        convert_log_value(torch.zeros(2, dtype=torch.complex64), "k")


def test_torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    t = torch.arange(40, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    same(convert_log_value(t[:3], "k"), [0.0, 1.0, 2.0])
    s, blob = convert_summary_value(t, "k")
    assert s["dtype"] == "torch.bfloat16" and s["mean"] == 19.5 and blob.dtype == np.float32


# --- JAX and TensorFlow ---------------------------------------------------------------------

def test_jax_arrays():
    pytest.importorskip("jax")
    import jax.numpy as jnp

    same(convert_log_value(jnp.float32(2.5), "k"), 2.5)
    same(convert_log_value(jnp.arange(3), "k"), [0, 1, 2])
    same(convert_log_value(jnp.array([0.1], dtype=jnp.bfloat16), "k"), 0.10009765625, rel=0)
    same(convert_log_value(jnp.arange(33), "k"), hist([1] * 31 + [2], range(33)))
    b = jnp.arange(40, dtype=jnp.float32) / 3
    s, blob = convert_summary_value(b.astype(jnp.bfloat16), "w")
    assert (s["_type"], s["dtype"], s["shape"]) == ("jax.Array", "bfloat16", [40])
    assert blob.dtype == np.float32 and np.array_equal(blob, np.asarray(b.astype(jnp.bfloat16).astype(jnp.float32)))
    s, blob = convert_summary_value(jnp.arange(40.0).reshape(8, 5), "w")
    same(s, {**S40, "_type": "jax.Array", "dtype": "float32"})


def test_jax_tracer_gives_type_error_naming_the_key():
    jax = pytest.importorskip("jax")

    @jax.jit
    def step(x):
        convert_log_value(x, "inside_jit")
        return x

    with pytest.raises(TypeError, match=r"cannot log key 'inside_jit': value of type .*Tracer"):
        step(jax.numpy.ones(3))


class _FakeTFDType:
    name = "float32"

    def __str__(self):
        return "<dtype: 'float32'>"


class FakeEagerTensor:
    """Mimics tf.EagerTensor's surface, so the TF path is tested without TensorFlow."""

    dtype = _FakeTFDType()

    def __init__(self, arr):
        self._arr = arr

    def numpy(self):
        return self._arr


FakeEagerTensor.__module__ = "tensorflow.python.framework.ops"


def test_tensorflow_path_without_tensorflow():
    same(convert_log_value(FakeEagerTensor(np.float32(0.5)), "k"), 0.5)  # 0-d .numpy() is a scalar
    same(convert_log_value(FakeEagerTensor(np.arange(3, dtype=np.float32)), "k"), [0.0, 1.0, 2.0])
    s, blob = convert_summary_value(FakeEagerTensor(np.arange(40, dtype=np.float32).reshape(8, 5)), "w")
    same(s, {**S40, "_type": "tensorflow.Tensor", "dtype": "float32"})
    assert blob.dtype == np.float32


def test_tensorflow_eager_tensors():
    tf = pytest.importorskip("tensorflow")
    same(convert_log_value(tf.constant(0.5), "k"), 0.5)
    same(convert_log_value(tf.constant([1, 2, 3]), "k"), [1, 2, 3])
    s, blob = convert_summary_value(tf.Variable(tf.reshape(tf.range(40, dtype=tf.float32), (8, 5))), "w")
    same(s, {**S40, "_type": "tensorflow.Tensor", "dtype": "float32"})
    s, blob = convert_summary_value(tf.cast(tf.range(40), tf.bfloat16), "w")
    assert s["dtype"] == "bfloat16" and blob.dtype == np.float32 and s["mean"] == 19.5


# --- import cost ------------------------------------------------------------------------------

def test_import_does_not_load_frameworks():
    code = ("import sys, tracker_core.values\n"
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'pandas') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(ROOT))
