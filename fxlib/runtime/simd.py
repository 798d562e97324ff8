"""Explicit SIMD for the streaming kernels: a 16-lane float32 vector type for numba, and a
float32 gate functions (exp, expm1, sigmoid, tanh) built on it.

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
* ``vadd``, ``vsub``, ``vmul``, ``vdiv``, ``vmin``, ``vmax``, ``vabs``, ``vcopysign``,
  ``vselect_lt(a, b, x, y)`` (a < b ? x : y), ``vexp2_shifted`` (2**n from the bits of
  1.5 * 2**23 + n), ``vsum``: lane-wise arithmetic, selection, and a fixed-order horizontal
  sum;
* ``vmatvec(hv, w, acc, n)``: the mat-vec of the small-size kernels, unrolled for a literal n,
  each h[j] broadcast from a register lane.

``exp_f64`` (inline, scalar code that LLVM vectorizes) evaluates exp(y) for |y| <= 700 in float64
without a library call: y = n ln2 + r with n = round(y / ln2), |r| <= ln2/2 (+ rounding), exp(r)
by the degree-8 Chebyshev interpolant of exp on [-0.347, 0.347] (``numpy.polynomial.chebyshev.
chebinterpolate``, monomial basis), 2^n by writing n + 1023 into the exponent bits (intrinsic
``f64_from_bits``). ``EXP_MAX_REL_ERR`` = 2e-12, the bound ``tests/test_runtime.py`` checks, is
30,000 times below float32's rounding error.

Gate functions on these vectors (inline, float32, no library call). One range reduction and
one polynomial serve all: y = n ln2 + r (n rounded by adding 1.5 * 2^23, Cody-Waite), p =
expm1(r) by a degree-7 polynomial, s = 2^n, then ``vexp`` = s p + s and ``vexpm1`` =
s p + (s - 1), each one fused multiply-add.

* ``vsigmoid``: with a = |v|, e = exp(-a) = s (1 + p) <= 1 is carried as e_hi + e_lo (the
  residual of a fused multiply-add is exact), d = 1 + e as d_hi + d_lo (Fast2Sum), and
  y = 1 / d_hi corrected by its exact residual; sigmoid(a) = 1 / d, sigmoid(-a) = e / d =
  s (1 + p) / d, so neither branch rounds 1 + e or exp(-v) > 1 before dividing. This is what
  the LSTM's forget gate and the GRU's update gate need: they multiply the carried state every
  sample, so their rounding compounds (``kernels`` doc).
* ``vsigmoid_fast`` = 1 / (1 + exp(-v)) as written: fewer operations and a shorter
  dependency chain, for the other gates (LSTM i, o; GRU r), whose rounding enters once.
* ``vtanh`` = sign(v) t(|v|): t = -m / (2 + m), m = expm1(-2|v|), for |v| < 0.55 (relative
  accuracy near 0, where (1 - e) / (1 + e) would cancel); t = 1 - 2e / (1 + e), e = exp(-2|v|),
  above (near |tanh| = 1 the error of e enters scaled down; the error of m near -1 would enter
  doubled).

Arguments are clamped to |v| <= 40; below the clamp the sigmoids return sigmoid(-40). Errors
are in ulp (one unit in the last place of the float32 result) against float64 NumPy over dense
grids (the measured maxima and means: docs/benchmarks.md, section 'Kernel fidelity'). The
documented bounds ``EXP_MAX_ULP`` = 1.5 (exp, expm1),
``SIGMOID_MAX_ULP`` = 1.5, ``SIGMOID_FAST_MAX_ULP`` = 2.5 and ``TANH_MAX_ULP`` = 2.5 are what
the tests assert. Compile code that uses them without numba's ``fastmath`` (reassociation
would remove the compensations).

Note for editors: ``kernels.py`` and ``bank.py`` inline these functions (and ``bank.py`` calls
``kernels.py``'s), and numba's disk cache (``cache=True``) only notices edits to the file of the
function it compiled; after editing this file (or ``kernels.py``), delete numba's cache files,
``fxlib/runtime/__pycache__/*.nbi`` and ``*.nbc``, so that everything is recompiled (touching
the files was not always enough).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = ["LANES", "vload", "vstore", "vsplat", "vfma", "vadd", "vsub", "vmul", "vdiv",
           "vmin", "vmax", "vabs", "vcopysign", "vselect_lt", "vexp2_shifted", "vsum", "vmatvec",
           "vexp", "vexpm1", "vsigmoid", "vsigmoid_fast", "vtanh", "apply", "EXP_MAX_ULP",
           "SIGMOID_MAX_ULP", "SIGMOID_FAST_MAX_ULP", "TANH_MAX_ULP", "f64_from_bits",
           "exp_f64", "exp_array", "EXP_MAX_REL_ERR"]

#: float32 lanes of the vector type (one AVX-512 register).
LANES = 16

#: Documented error bounds, in float32 ulps of the result (checked by tests): vexp and vexpm1
#: for |y| <= 80; vsigmoid and vtanh for all finite inputs.
EXP_MAX_ULP = 1.5
SIGMOID_MAX_ULP = 1.5
SIGMOID_FAST_MAX_ULP = 2.5
TANH_MAX_ULP = 2.5
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


def _binop(llvm_op: str, doc: str):
    """A lane-wise binary intrinsic: an IRBuilder method (fadd, fsub, fmul, fdiv) or an LLVM
    intrinsic (minnum, maxnum). No fast-math flags: the compiler keeps the order written."""
    @intrinsic
    def op(typingctx, a, b):
        def codegen(context, builder, sig, args):
            if llvm_op in ("minnum", "maxnum"):
                fn = cgutils.get_or_insert_function(builder.module,
                                                    ir.FunctionType(_VEC, [_VEC, _VEC]),
                                                    f"llvm.{llvm_op}.v{LANES}f32")
                return builder.call(fn, args)
            return getattr(builder, llvm_op)(args[0], args[1])
        return f32v(f32v, f32v), codegen
    op.__doc__ = doc
    return op


vadd = _binop("fadd", "a + b, lane-wise")
vsub = _binop("fsub", "a - b, lane-wise")
vmul = _binop("fmul", "a * b, lane-wise")
vdiv = _binop("fdiv", "a / b, lane-wise (correctly rounded)")
vmin = _binop("minnum", "min(a, b), lane-wise")
vmax = _binop("maxnum", "max(a, b), lane-wise")


@intrinsic
def vabs(typingctx, a):
    """|a|, lane-wise."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC]),
                                            f"llvm.fabs.v{LANES}f32")
        return builder.call(fn, args)
    return f32v(f32v), codegen


@intrinsic
def vcopysign(typingctx, mag, sgn):
    """|mag| with the sign of sgn, lane-wise."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module,
                                            ir.FunctionType(_VEC, [_VEC, _VEC]),
                                            f"llvm.copysign.v{LANES}f32")
        return builder.call(fn, args)
    return f32v(f32v, f32v), codegen


@intrinsic
def vselect_lt(typingctx, a, b, x, y):
    """a < b ? x : y, lane-wise."""
    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered("<", args[0], args[1]), args[2], args[3])
    return f32v(f32v, f32v, f32v, f32v), codegen


@intrinsic
def vexp2_shifted(typingctx, t):
    """2**n from t = 1.5 * 2**23 + n (integer n in [-126, 127]): n sits in t's low mantissa
    bits, so (bits(t) + 127) << 23 is 2**n's bit pattern (the higher bits shift out)."""
    def codegen(context, builder, sig, args):
        ivec = ir.VectorType(ir.IntType(32), LANES)
        k = builder.add(builder.bitcast(args[0], ivec), ir.Constant(ivec, [127] * LANES))
        return builder.bitcast(builder.shl(k, ir.Constant(ivec, [23] * LANES)), _VEC)
    return f32v(f32v), codegen


@intrinsic
def vsum(typingctx, a):
    """The sum of the 16 lanes, as a fixed tree (lanes 0-7 + 8-15, then halves again)."""
    def codegen(context, builder, sig, args):
        v, width = args[0], LANES
        while width > 1:
            width //= 2
            lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), width),
                                                          list(range(width))))
            hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), width),
                                                          list(range(width, 2 * width))))
            v = builder.fadd(lo, hi)
        return builder.extract_element(v, ir.Constant(ir.IntType(32), 0))
    return types.float32(f32v), codegen


@intrinsic
def vmatvec(typingctx, hv, w, acc, n):
    """The recurrent mat-vec of a model with one 16-lane block per gate, unrolled: for
    j = 0 .. n-1 in order, ``acc[q] = fma(lane j of hv, w[(j k + q) 16 : +16], acc[q])`` for
    each of the k accumulators (a tuple of vectors; returns the new tuple). ``n`` must be an
    integer literal (<= 16): every lane broadcast is then a register shuffle, not a store of
    h and a load of h[j] (which waits for the store to be forwarded), and every weight offset
    a constant. The same fused multiply-adds in the same order as the loop form, so the same
    bits."""
    if not (isinstance(n, types.IntegerLiteral) and isinstance(acc, types.UniTuple)
            and acc.dtype == f32v and 0 <= n.literal_value <= LANES):
        return None
    _check_f32_array(w)
    count, k = n.literal_value, acc.count

    def codegen(context, builder, sig, args):
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3),
                                             f"llvm.fma.v{LANES}f32")
        accs = list(cgutils.unpack_tuple(builder, args[2]))
        lanes = ir.VectorType(ir.IntType(32), LANES)
        for j in range(count):
            hj = builder.shuffle_vector(args[0], ir.Constant(_VEC, ir.Undefined),
                                        ir.Constant(lanes, [j] * LANES))
            for q in range(k):
                at = ir.Constant(ir.IntType(64), (j * k + q) * LANES)
                wv = builder.load(_vec_ptr(context, builder, sig.args[1], args[1], at), align=4)
                accs[q] = builder.call(fma, [hj, wv, accs[q]])
        return context.make_tuple(builder, sig.return_type, accs)
    return acc(f32v, w, acc, n), codegen


# ------------------------------------------------------------------------ float64 exp
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
_LOG2E_64 = 1.4426950408889634
_LN2_64 = 0.6931471805599453


@njit(cache=True, inline="always", error_model="numpy")
def exp_f64(y):
    """exp(y) for |y| <= 700, float64, no library call (see the module doc for the bound)."""
    # round(y / ln2) for |y / ln2| < 1024: truncation of a positive number is a floor.
    n = np.int64(y * _LOG2E_64 + 1024.5) - 1024
    r = y - np.float64(n) * _LN2_64
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


# ------------------------------------------------------------- float32 exp, expm1, gates
# Range reduction y = n ln2 + r, n = round(y / ln2) (to nearest, by one fused multiply-add
# with 1.5 * 2**23, which also leaves n in the sum's low bits for 2**n), |r| <= ln2/2, with
# ln2 split in two (Cody-Waite: n * _LN2_HI is exact for |n| < 2**9); then
# expm1(r) = r + r**2 q(r), q the polynomial interpolating (expm1(r) - r) / r**2 at Chebyshev
# nodes on [-0.3466, 0.3466] (numpy.polynomial.chebyshev.chebinterpolate, in float64, rounded
# to float32).
_F = np.float32
_LOG2E = _F(1.4426950408889634)
_NLN2_HI = _F(-0.693359375)
_NLN2_LO = _F(2.1219444005469057e-4)
_SHIFT = _F(12582912.0)   # 1.5 * 2**23: adding it rounds |x| < 2**22 to an integer
_CLAMP = _F(40.0)         # sigmoid(-40) = 4e-18, 1 - tanh(40) = 4e-35: far below float32 ulps


@njit(cache=True, inline="always")
def _reduce(y):
    t = vfma(y, vsplat(_LOG2E), vsplat(_SHIFT))    # rounds y / ln2 to an integer n, in t's bits
    n = vsub(t, vsplat(_SHIFT))
    r = vfma(n, vsplat(_NLN2_HI), y)
    return vexp2_shifted(t), vfma(n, vsplat(_NLN2_LO), r)


@njit(cache=True, inline="always")
def _expm1_parts(y):
    """(2**n, expm1(r)) with y = n ln2 + r: exp(y) = fma(s, p, s), expm1(y) = fma(s, p, s - 1)."""
    s, r = _reduce(y)
    q = vsplat(_F(0.00019890988187398762))      # q(r) = (expm1(r) - r) / r**2
    q = vfma(q, r, vsplat(_F(0.001393364742398262)))
    q = vfma(q, r, vsplat(_F(0.00833331048488617)))
    q = vfma(q, r, vsplat(_F(0.04166646674275398)))
    q = vfma(q, r, vsplat(_F(0.1666666716337204)))
    q = vfma(q, r, vsplat(_F(0.5)))
    return s, vfma(vmul(r, r), q, r)


@njit(cache=True, inline="always")
def vexpm1(y):
    """exp(y) - 1, |y| <= 80, accurate relative to the result also near y = 0."""
    s, em1 = _expm1_parts(y)
    return vfma(s, em1, vsub(s, vsplat(_F(1.0))))   # 2**n (expm1(r) + 1) - 1


@njit(cache=True, inline="always")
def vexp(y):
    """exp(y), |y| <= 80 (see ``EXP_MAX_ULP``)."""
    s, em1 = _expm1_parts(y)
    return vfma(s, em1, s)                          # 2**n (expm1(r) + 1)


@njit(cache=True, inline="always")
def vsigmoid(v):
    """1 / (1 + exp(-v)), lane-wise (``SIGMOID_MAX_ULP``): with e = exp(-|v|) = s (1 + p) and
    d = 1 + e = d_hi + d_lo, 1 / d = y (1 + k) for y = 1 / d_hi, k = (1 - y d_hi) - y d_lo;
    sigmoid(|v|) = y (1 + k), sigmoid(-|v|) = e / d = s y (1 + p)(1 + k)."""
    zero = vsplat(_F(0.0))
    one = vsplat(_F(1.0))
    a = vmin(vabs(v), vsplat(_CLAMP))
    s, p = _expm1_parts(vsub(zero, a))
    e_hi = vfma(s, p, s)
    e_lo = vfma(s, p, vsub(s, e_hi))                # s - e_hi is exact (Sterbenz)
    d_hi = vadd(one, e_hi)
    d_lo = vadd(vsub(e_hi, vsub(d_hi, one)), e_lo)  # Fast2Sum, as 1 >= e_hi
    P = vselect_lt(v, zero, p, zero)                # the numerator: 1 or s (1 + p)
    S = vselect_lt(v, zero, s, one)
    y = vdiv(one, d_hi)
    ny = vsub(zero, y)
    k = vfma(ny, d_lo, vfma(ny, d_hi, one))         # 1 - y d_hi is exact (fused)
    Sy = vmul(S, y)                                 # exact: S is a power of 2
    # S y (1 + P)(1 + k) = Sy (1 + Q), Q = P + k (1 + P); 1 + P rounded only scales k (~1e-7)
    return vfma(Sy, vfma(k, vadd(one, P), P), Sy)


@njit(cache=True, inline="always")
def vsigmoid_fast(v):
    """1 / (1 + exp(-v)) as written (``SIGMOID_FAST_MAX_ULP``): shorter than ``vsigmoid``, for
    gates whose rounding enters each step once instead of compounding in the state."""
    one = vsplat(_F(1.0))
    a = vmin(vmax(v, vsplat(-_CLAMP)), vsplat(_CLAMP))
    return vdiv(one, vadd(one, vexp(vsub(vsplat(_F(0.0)), a))))


@njit(cache=True, inline="always")
def vtanh(v):
    """tanh(v) = sign(v) t(|v|): t = -m / (2 + m), m = expm1(-2|v|) below |v| = 0.55
    (relative accuracy near 0), t = 1 - 2e / (1 + e), e = exp(-2|v|) above (e enters scaled
    down, not the absolute error of m near -1 scaled up by 2)."""
    a = vmin(vabs(v), vsplat(_CLAMP))
    s, p = _expm1_parts(vmul(vsplat(_F(-2.0)), a))
    m = vfma(s, p, vsub(s, vsplat(_F(1.0))))
    e = vfma(s, p, s)
    small = vsplat(_F(0.55))
    num = vselect_lt(a, small, vsub(vsplat(_F(0.0)), m), vadd(e, e))
    den = vselect_lt(a, small, vadd(vsplat(_F(2.0)), m), vadd(vsplat(_F(1.0)), e))
    q = vdiv(num, den)
    return vcopysign(vselect_lt(a, small, q, vsub(vsplat(_F(1.0)), q)), v)


@njit(cache=True)
def _apply(fn_id, y, out):
    for i in range(0, y.shape[0], LANES):
        v = vload(y, i)
        if fn_id == 0:
            r = vexp(v)
        elif fn_id == 1:
            r = vexpm1(v)
        elif fn_id == 2:
            r = vsigmoid(v)
        elif fn_id == 4:
            r = vsigmoid_fast(v)
        else:
            r = vtanh(v)
        vstore(out, i, r)


def apply(name: str, y: np.ndarray) -> np.ndarray:
    """``vexp``/``vexpm1``/``vsigmoid``/``vtanh``/``vsigmoid_fast`` over a float32 array, by
    name without the ``v`` (for tests)."""
    fn_id = ("exp", "expm1", "sigmoid", "tanh", "sigmoid_fast").index(name)
    n = y.shape[0]
    buf = np.zeros(-(-n // LANES) * LANES, np.float32)
    buf[:n] = y
    out = np.empty_like(buf)
    _apply(fn_id, buf, out)
    return out[:n]
