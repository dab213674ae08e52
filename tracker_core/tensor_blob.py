"""The blob of a bfloat16 tensor summary: its exact float32 conversion, written by ``np.save``
piece by piece instead of being held whole (DESIGN.md section 4)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .tensor_stats import _CHUNK, _bf16_to_f32, _c_pieces


class Float32FromBfloat16:
    """The float32 array a bfloat16 tensor converts to exactly, without holding it.

    The stores write blobs with ``np.save``, which defers to ``__array_function__``: this
    object writes the same .npy bytes as ``np.save`` of the converted array, converting
    ``_CHUNK`` elements at a time. Any other numpy function gets the converted array.
    It reads the tensor's memory when written: write it before the tensor can change."""

    def __init__(self, bits: np.ndarray) -> None:
        self.bits = bits  # uint16 bit patterns, any layout
        self.shape, self.ndim, self.size = bits.shape, bits.ndim, bits.size
        self.dtype = np.dtype(np.float32)
        self.nbytes = 4 * bits.size

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = _bf16_to_f32(self.bits)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        if func is np.save:
            return self._save(*args, **kwargs)
        args = tuple(np.asarray(a) if a is self else a for a in args)
        return func(*args, **kwargs)

    def _save(self, file: Any, arr: Any = None, allow_pickle: bool = True, fix_imports: Any = None) -> None:
        if not hasattr(file, "write"):
            file = os.fspath(file)
            if not file.endswith(".npy"):
                file += ".npy"
            with open(file, "wb") as f:
                return self._save(f)
        # np.save writes an F-contiguous (not C-contiguous) array in Fortran order.
        fortran = self.bits.flags.f_contiguous and not self.bits.flags.c_contiguous
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": bool(fortran),
                  "shape": tuple(self.shape)}
        np.lib.format.write_array_header_1_0(file, header)  # np.save's choice at <= 64 dimensions
        for piece in _c_pieces(self.bits.T if fortran else self.bits, _CHUNK):
            file.write(_bf16_to_f32(piece).data)
