"""Explicit SIMD for the streaming kernels: a 16-lane float32 vector type for numba, and a
branch-free float64 ``exp`` that LLVM vectorizes.

Why explicit vectors. A recurrent step at batch 1 is a mat-vec ``g = W_hh h`` followed by
element-wise gates. Written as plain loops, LLVM vectorizes the mat-vec as ``g += h[j] * W[j]``
row updates, which load and store all of ``g`` once per ``j`` (H times per sample), and numba
gives no way to ask for register blocking or 512-bit vectors (LLVM's auto-vectorizer prefers
256 bits on AVX-512 CPUs). With the type below a kernel keeps four 16-lane accumulators in
registers for the whole ``j`` loop and stores each output once. The arithmetic is the same
(per output, a fused multiply-add chain in the order j = 0 .. H-1 from the bias), so the
results are bit-identical to the loop form; only the memory traffic changes. On CPUs without
AVX-512, LLVM splits a 16-lane operation into 2 x 8 (AVX2) or 4 x 4 (SSE) lanes.

Intrinsics (usable inside ``@njit`` code only):

* ``vload(a, i)`` / ``vstore(a, i, v)``: 16 consecutive float32 of the C-contiguous 1-D array
  ``a`` from flat index ``i`` (no bounds check: callers pad arrays to a multiple of 16);
* ``vsplat(x)``: a float32 broadcast to 16 lanes;
* ``vfma(a, b, c)``: a * b + c, lane-wise, fused (``llvm.fma``: one rounding);
* ``f64_from_bits(n)``: the float64 whose IEEE-754 bits are the int64 ``n`` (a bit cast).

``exp_f64`` (inline) evaluates exp(y) for |y| <= 700 in float64 without a library call:
y = n ln2 + r with n = round(y / ln2), |r| <= ln2/2 (+ rounding), exp(r) by the degree-8
Chebyshev interpolant of exp on [-0.347, 0.347] (coefficients below, computed with
``numpy.polynomial.chebyshev.chebinterpolate`` and converted to the monomial basis), and 2^n
by writing n + 1023 into the exponent bits. Measured maximum relative error over the
interpolation interval: 1.07e-12; ``EXP_MAX_REL_ERR`` = 2e-12 over the whole range is checked in
``tests/test_runtime.py`` -- 30,000 times below float32's relative rounding error (6e-8), which is
the precision every value is rounded to afterwards.

Note for editors: the kernels inline these functions, and numba's disk cache (``cache=True``)
only notices edits to the file of the function it compiled; after editing this file, touch
``kernels.py`` (or delete ``fxlib/runtime/__pycache__``) so the kernels are recompiled.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = ["LANES", "vload", "vstore", "vsplat", "vfma", "f64_from_bits", "exp_f64",
           "exp_array", "EXP_MAX_REL_ERR"]

#: float32 lanes of the vector type (one AVX-512 register).
LANES = 16

#: Documented bound on |exp_f64(y) / exp(y) - 1| for |y| <= 700 (checked by a test).
EXP_MAX_REL_ERR = 2e-12

_VEC = ir.VectorType(ir.FloatType(), LANES)


class F32Vector(types.Type):
    """numba type of a <16 x float> LLVM value (lives in registers; never boxed)."""

    def __init__(self):
        super().__init__(name=f"f32x{LANES}")


f32v = F32Vector()


@register_model(F32Vector)
class _F32VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _vec_ptr(context, builder, arrty, arr, idx):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), _VEC.as_pointer())


def _check_f32_array(arr):
    if not (isinstance(arr, types.Array) and arr.dtype == types.float32 and arr.ndim == 1
            and arr.layout == "C"):
        raise TypeError(f"expected a C-contiguous 1-D float32 array, got {arr}")


@intrinsic
def vload(typingctx, arr, i):
    _check_f32_array(arr)

    def codegen(context, builder, sig, args):
        return builder.load(_vec_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
    return f32v(arr, types.intp), codegen


@intrinsic
def vstore(typingctx, arr, i, v):
    _check_f32_array(arr)

    def codegen(context, builder, sig, args):
        builder.store(args[2], _vec_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()
    return types.void(arr, types.intp, f32v), codegen


@intrinsic
def vsplat(typingctx, x):
    def codegen(context, builder, sig, args):
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), args[0],
                                     ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined), mask)
    return f32v(types.float32), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3),
                                            f"llvm.fma.v{LANES}f32")
        return builder.call(fn, args)
    return f32v(f32v, f32v, f32v), codegen


@intrinsic
def f64_from_bits(typingctx, n):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


# exp(r) on |r| <= 0.347: degree-8 Chebyshev interpolant in the monomial basis (see doc).
_E0 = 0.9999999999999996
_E1 = 0.9999999999795876
_E2 = 0.4999999999981155
_E3 = 0.16666666892690712
_E4 = 0.04166666688550281
_E5 = 0.00833326576947736
_E6 = 0.00138888223640261
_E7 = 0.00019916049118198109
_E8 = 2.48758974151926e-05
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453


@njit(cache=True, inline="always", error_model="numpy")
def exp_f64(y):
    """exp(y) for |y| <= 700, float64, no library call (see the module doc for the bound)."""
    # round(y / ln2) for |y / ln2| < 1024: truncation of a positive number is a floor.
    n = np.int64(y * _LOG2E + 1024.5) - 1024
    r = y - np.float64(n) * _LN2
    p = _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = p * r + _E1
    p = p * r + _E0
    return p * f64_from_bits((n + 1023) << 52)


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc", "nsz"})
def exp_array(y):
    """``exp_f64`` element-wise over a float64 array, compiled as in the kernels (for tests)."""
    out = np.empty_like(y)
    for i in range(y.shape[0]):
        out[i] = exp_f64(y[i])
    return out
