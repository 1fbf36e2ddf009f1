"""Elementary functions that LLVM can vectorise inside numba kernels.

Without SVML numba lowers ``math.tanh``, ``np.tanh`` and ``np.exp`` to scalar libm calls,
which keeps a loop that calls them from being vectorised. :func:`tanh` below uses only
arithmetic, ``floor``, ``fabs``, ``copysign`` and bit casts, so a loop over contiguous
memory compiles to SIMD code (timings: ``benchmarks/MEASUREMENTS.md``; ``python -m
benchmarks mfld`` reports the kernels that use it).

Method. For ``a = min(|x|, 20)`` (``tanh 20 = 1`` in double precision),

.. math::

    \\tanh |x| = \\frac{1 - e}{1 + e}, \\qquad e = e^{-2a} = 2^{-k} e^{r},\\quad
    k = \\operatorname{round}(2a / \\ln 2),\\quad r = k \\ln 2 - 2a \\in [-\\tfrac{\\ln 2}{2}, \\tfrac{\\ln 2}{2}],

with ``ln 2`` split in a high and a low part (Cody-Waite) and ``2^{-k}`` written directly
into the exponent bits. ``e^r`` is its [6/6] Pade approximant ``P(r) / P(-r)`` (relative
error below 1e-18 on that interval), with ``P(r) = E(r^2) + r O(r^2)``, so that

.. math::

    \\tanh |x| = \\frac{P(-r) - 2^{-k} P(r)}{P(-r) + 2^{-k} P(r)}

costs two short Horner polynomials and a single division. Since ``0 < e <= 1``, the result
has an *absolute* error of a few 1e-16 for every ``x`` (relative accuracy degrades near 0,
where the numerator cancels; the kernels only need absolute accuracy). NaN gives NaN,
``+-inf`` gives ``+-1``.

:func:`exp_nonpositive` is :math:`e^x` for :math:`x \\le 0` by the same reduction and
approximant (the softmax of :mod:`theorytk.reversal`).

Caching: the kernels that inline these functions are cached by
:class:`theorytk._jit.SourceTreeLocator`, stamped by the contents of this file too, so an
edit here recompiles them.
"""
from math import factorial

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from theorytk._jit import kernel


@intrinsic
def _float_bits(typingctx, value):
    """Reinterpret a float64 as the int64 with the same bits (a free LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, value):
    """Reinterpret an int64 as the float64 with the same bits."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 = _LN2_HI + _LN2_LO, _LN2_HI with 11 trailing zero bits
_LN2_LO = 1.90821492927058770002e-10
_TWO52 = 2.0**52  # adding it to 0 <= k < 2**52 puts k in the low mantissa bits
_TWO52_BITS = 0x4330000000000000
_EXPONENT_BIAS = 1023

def _pade_exp_coefficients(order=6):
    """Numerator coefficients of the [order/order] Pade approximant of exp:
    ``c_m = (2n - m)! n! / ((2n)! m! (n - m)!)``, ``n = order`` (Baker & Graves-Morris, Sec. 1.2)."""
    f, n = factorial, order
    return [f(2 * n - m) * f(n) / (f(2 * n) * f(m) * f(n - m)) for m in range(n + 1)]


_PADE = _pade_exp_coefficients()
_E1, _E2, _E3 = _PADE[2], _PADE[4], _PADE[6]  # even part: 1 + E1 r^2 + E2 r^4 + E3 r^6 (c_0 = 1)
_O0, _O1, _O2 = _PADE[1], _PADE[3], _PADE[5]  # odd part: r (O0 + O1 r^2 + O2 r^4)


@kernel(inline="always")
def tanh(x):
    """Hyperbolic tangent, vectorisable; absolute error a few 1e-16 against ``np.tanh``."""
    two_a = 2.0 * min(abs(x), 20.0)
    k = np.floor(two_a * _LOG2E + 0.5)
    r = k * _LN2_HI - two_a + k * _LN2_LO
    k_int = _float_bits(k + _TWO52) - _TWO52_BITS
    scale = _bits_float((_EXPONENT_BIAS - k_int) << 52)
    r2 = r * r
    even = 1.0 + r2 * (_E1 + r2 * (_E2 + r2 * _E3))
    odd = r * (_O0 + r2 * (_O1 + r2 * _O2))
    p_minus = even - odd
    scaled_p = scale * (even + odd)
    return np.copysign((p_minus - scaled_p) / (p_minus + scaled_p), x)


EXP_FLOOR = -708.0
"""Below it :func:`exp_nonpositive` returns 0 (``np.exp`` is below 3.31e-308 there, subnormal from -708.4)."""


@kernel(inline="always", fastmath=False)
def exp_nonpositive(x):
    r""":math:`e^x` for :math:`x \le 0`, in arithmetic that LLVM vectorises (``np.exp`` is a scalar libm call here).

    The method of :func:`tanh` (Cody-Waite reduction, [6/6] Pade approximant):
    :math:`e^x = 2^{k} e^{r}` with :math:`k = \operatorname{round}(x / \ln 2) \le 0` and
    :math:`r = x - k \ln 2 \in [-\tfrac{\ln 2}{2}, \tfrac{\ln 2}{2}]` (``ln 2`` split in a high and a low part, so
    :math:`k \ln 2_{hi}` is exact), :math:`2^{k}` written into the exponent bits, and
    :math:`e^r = P(r)/P(-r)` with :math:`P(r) = E(r^2) + r\,O(r^2)` (the Pade numerator; its error is below
    1e-18 on that interval). Measured against ``np.exp``: at most 2 ulp on ``[EXP_FLOOR, 0]`` (tests). Below
    :data:`EXP_FLOOR` it returns 0 (``np.exp`` gives at most 3.31e-308 there), NaN gives NaN, ``-inf`` gives 0.
    Compiled without fast-math flags, and so are its callers (reassociation would undo the split of ``ln 2``).
    """
    a = max(x, EXP_FLOOR)
    k = np.floor(a * _LOG2E + 0.5)
    r = (a - k * _LN2_HI) - k * _LN2_LO
    k_int = _float_bits(_TWO52 - k) - _TWO52_BITS
    scale = _bits_float((_EXPONENT_BIAS - k_int) << 52)
    r2 = r * r
    even = 1.0 + r2 * (_E1 + r2 * (_E2 + r2 * _E3))
    odd = r * (_O0 + r2 * (_O1 + r2 * _O2))
    value = scale * ((even + odd) / (even - odd))
    return 0.0 if x < EXP_FLOOR else value


@kernel
def tanh_inplace(values):
    """Apply :func:`tanh` to a contiguous 1-D array in place.

    The two halves are processed in the same loop: one vectorised iteration is a long
    dependency chain (range reduction, polynomials, division), and two independent chains
    per iteration keep the FP units busier (about 15% faster than a plain loop here).
    """
    half = values.shape[0] // 2
    for i in range(half):
        values[i] = tanh(values[i])
        values[half + i] = tanh(values[half + i])
    for i in range(2 * half, values.shape[0]):
        values[i] = tanh(values[i])


# --------------------------------------------------------------------------------------
# Explicit 4-lane vectors.
#
# numba compiles with LLVM's loop vectoriser only (no SLP), which vectorises the innermost
# loop and keeps every accumulator in memory. A register-tiled matrix product needs
# accumulators that live in registers across an outer loop, so the small set below exposes
# LLVM's ``<4 x double>`` (one AVX2 register) to numba code: unaligned loads and stores at
# a flat offset of a C-contiguous array, broadcast, fused multiply-add and a horizontal sum
# in a fixed order. None of these operations carry fast-math flags, so their results do
# not depend on the surrounding code.
# --------------------------------------------------------------------------------------

class Float64x4(types.Type):
    """Four float64 lanes held in one SIMD register."""

    def __init__(self):
        super().__init__(name="float64x4")


float64x4 = Float64x4()
_V4 = ir.VectorType(ir.DoubleType(), 4)


@register_model(Float64x4)
class _Float64x4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V4)


def _vector_pointer(context, builder, array_type, array, offset_type, offset):
    data = context.make_array(array_type)(context, builder, array).data
    offset = context.cast(builder, offset, offset_type, types.intp)
    return builder.bitcast(builder.gep(data, [offset]), _V4.as_pointer())


def _is_c_float64_array(array):
    return isinstance(array, types.Array) and array.dtype == types.float64 and array.layout == "C"


@intrinsic
def load4(typingctx, array, offset):
    """``array.flat[offset:offset + 4]`` as a vector (no bounds check)."""
    if not (_is_c_float64_array(array) and isinstance(offset, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        pointer = _vector_pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1])
        return builder.load(pointer, align=8)
    return float64x4(array, offset), codegen


@intrinsic
def store4(typingctx, array, offset, value):
    """``array.flat[offset:offset + 4] = value`` (no bounds check)."""
    if not (_is_c_float64_array(array) and isinstance(offset, types.Integer) and value == float64x4):
        return None

    def codegen(context, builder, signature, args):
        pointer = _vector_pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1])
        builder.store(args[2], pointer, align=8)
        return context.get_dummy_value()
    return types.none(array, offset, value), codegen


def _broadcast(builder, x):
    """IR for the vector with the double ``x`` in every lane."""
    vector = builder.insert_element(ir.Constant(_V4, None), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(vector, vector, ir.Constant(ir.VectorType(ir.IntType(32), 4), None))


@intrinsic
def splat4(typingctx, value):
    """The vector with ``value`` in every lane."""
    if not isinstance(value, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return _broadcast(builder, context.cast(builder, args[0], signature.args[0], types.float64))
    return float64x4(value), codegen


@intrinsic
def fma4(typingctx, a, b, c):
    """``a * b + c`` lane by lane, with a single rounding."""
    if not (a == b == c == float64x4):
        return None

    def codegen(context, builder, signature, args):
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V4, [_V4] * 3), "llvm.fma.v4f64")
        return builder.call(fma, args)
    return float64x4(a, b, c), codegen


@intrinsic
def sum4(typingctx, value):
    """``(v0 + v1) + (v2 + v3)``."""
    if value != float64x4:
        return None

    def codegen(context, builder, signature, args):
        lane = [builder.extract_element(args[0], ir.Constant(ir.IntType(32), m)) for m in range(4)]
        return builder.fadd(builder.fadd(lane[0], lane[1]), builder.fadd(lane[2], lane[3]))
    return types.float64(value), codegen


def _zero_where(builder, comparison, gate, value):
    """IR for ``value`` with the lanes where ``gate <comparison> 0`` (ordered: false for NaN) set to zero."""
    zero = ir.Constant(_V4, [0.0] * 4)
    return builder.select(builder.fcmp_ordered(comparison, gate, zero), zero, value)


@intrinsic
def relu4(typingctx, value):
    """``value`` with its negative lanes set to zero (a NaN lane stays NaN, so divergence shows)."""
    if value != float64x4:
        return None

    def codegen(context, builder, signature, args):
        return _zero_where(builder, "<", args[0], args[0])
    return float64x4(value), codegen


@intrinsic
def keep_where_positive4(typingctx, value, gate):
    """``value`` with the lanes where ``gate <= 0`` set to zero (the ReLU derivative; NaN gates keep the value)."""
    if not (value == gate == float64x4):
        return None

    def codegen(context, builder, signature, args):
        return _zero_where(builder, "<=", args[1], args[0])
    return float64x4(value, gate), codegen


@intrinsic
def splat4_at(typingctx, array, offset):
    """The vector with ``array.flat[offset]`` in every lane (one broadcast load; no bounds or sign check)."""
    if not (_is_c_float64_array(array) and isinstance(offset, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        offset = context.cast(builder, args[1], signature.args[1], types.intp)
        return _broadcast(builder, builder.load(builder.gep(data, [offset])))
    return float64x4(array, offset), codegen


@intrinsic
def add4(typingctx, a, b):
    """``a + b`` lane by lane."""
    if not (a == b == float64x4):
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1])
    return float64x4(a, b), codegen
