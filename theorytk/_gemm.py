"""Register-tiled small matrix products for numba kernels that run on one row block per thread.

BLAS is the right tool for one large product, but the DFIV networks run thousands of small
products (a block of 128 rows times a 128 x 64 weight matrix), and calling a pthreads
OpenBLAS from several numba threads at once made each call about four times slower here
(measured in ``benchmarks/dfiv.py``'s history: the calls contend inside the library). These
products are written with the explicit 4-lane vectors of :mod:`theorytk._vecmath`: a tile of
4 rows x 8 columns keeps its 8 accumulators in registers while the inner dimension runs, in
order, so every result is a fixed sequence of fused multiply-adds whatever the thread count.

* :func:`gemm_nn`: ``C[r] = A[r] @ B + bias`` for the rows r in ``[i0, i1)``, with the ReLU
  (forward pass) or the ReLU derivative (input gradients, ``B = W^T``) fused into the store;
* :func:`gemm_tn`: ``C = A[i0:i1]^T @ G[i0:i1]`` (weight gradients of a row block).

All arrays are C-contiguous float64; no bounds checks (the callers own the shapes).
"""
import numpy as np

from theorytk._jit import kernel
from theorytk._vecmath import fma4, keep_where_positive4, load4, relu4, splat4, splat4_at, store4

TILE_ROWS = 4
TILE_COLS = 8


PLAIN, RELU, GATE = 0, 1, 2
"""Epilogues of :func:`gemm_nn`, applied to each result before it is stored: none;
``max(c, 0)``; ``c`` where ``gate > 0`` else 0 (the ReLU derivative of backprop). Both keep NaN."""


@kernel(inline="always")
def _finish4(c, epilogue, g):
    """``epilogue(c)`` given the gate values ``g`` (read for GATE only)."""
    if epilogue == RELU:
        return relu4(c)
    if epilogue == GATE:
        return keep_where_positive4(c, g)
    return c


@kernel(inline="always")
def _finish1(c, epilogue, g):
    if (epilogue == RELU and c < 0.0) or (epilogue == GATE and g <= 0.0):
        return 0.0
    return c


@kernel(inline="always")
def _nn_tile4(A, B, C, i, j, bias, epilogue, gate):
    """``C[i:i+4, j:j+8] = A[i:i+4] @ B[:, j:j+8] + bias[j:j+8]``, then the epilogue."""
    k_dim, n = B.shape
    c00 = load4(bias, j)
    c01 = load4(bias, j + 4)
    c10, c11, c20, c21, c30, c31 = c00, c01, c00, c01, c00, c01
    for k in range(k_dim):
        b0 = load4(B, k * n + j)
        b1 = load4(B, k * n + j + 4)
        a = splat4(A[i, k])
        c00 = fma4(a, b0, c00)
        c01 = fma4(a, b1, c01)
        a = splat4(A[i + 1, k])
        c10 = fma4(a, b0, c10)
        c11 = fma4(a, b1, c11)
        a = splat4(A[i + 2, k])
        c20 = fma4(a, b0, c20)
        c21 = fma4(a, b1, c21)
        a = splat4(A[i + 3, k])
        c30 = fma4(a, b0, c30)
        c31 = fma4(a, b1, c31)
    store4(C, i * n + j, _finish4(c00, epilogue, load4(gate, i * n + j)))
    store4(C, i * n + j + 4, _finish4(c01, epilogue, load4(gate, i * n + j + 4)))
    store4(C, (i + 1) * n + j, _finish4(c10, epilogue, load4(gate, (i + 1) * n + j)))
    store4(C, (i + 1) * n + j + 4, _finish4(c11, epilogue, load4(gate, (i + 1) * n + j + 4)))
    store4(C, (i + 2) * n + j, _finish4(c20, epilogue, load4(gate, (i + 2) * n + j)))
    store4(C, (i + 2) * n + j + 4, _finish4(c21, epilogue, load4(gate, (i + 2) * n + j + 4)))
    store4(C, (i + 3) * n + j, _finish4(c30, epilogue, load4(gate, (i + 3) * n + j)))
    store4(C, (i + 3) * n + j + 4, _finish4(c31, epilogue, load4(gate, (i + 3) * n + j + 4)))


@kernel(inline="always")
def _nn_tile1(A, B, C, i, j, bias, epilogue, gate):
    """``C[i, j:j+8] = A[i] @ B[:, j:j+8] + bias[j:j+8]``, then the epilogue (row remainder)."""
    k_dim, n = B.shape
    c0 = load4(bias, j)
    c1 = load4(bias, j + 4)
    for k in range(k_dim):
        a = splat4(A[i, k])
        c0 = fma4(a, load4(B, k * n + j), c0)
        c1 = fma4(a, load4(B, k * n + j + 4), c1)
    store4(C, i * n + j, _finish4(c0, epilogue, load4(gate, i * n + j)))
    store4(C, i * n + j + 4, _finish4(c1, epilogue, load4(gate, i * n + j + 4)))


@kernel
def gemm_nn(A, B, bias, C, i0, i1, epilogue, gate):
    """``C[i0:i1] = epilogue(A[i0:i1] @ B + bias)`` with A (n, K), B (K, N), bias (N,), C and gate (n, N).

    ``epilogue`` is :data:`PLAIN`, :data:`RELU` or :data:`GATE` (``gate`` is read only for
    GATE; pass any C-contiguous float64 array otherwise).
    """
    k_dim, n = B.shape
    vec_cols = n - n % TILE_COLS
    four = i0 + (i1 - i0) // TILE_ROWS * TILE_ROWS
    for i in range(i0, i1):
        if i < four and (i - i0) % TILE_ROWS == 0:
            for j in range(0, vec_cols, TILE_COLS):
                _nn_tile4(A, B, C, i, j, bias, epilogue, gate)
        elif i >= four:
            for j in range(0, vec_cols, TILE_COLS):
                _nn_tile1(A, B, C, i, j, bias, epilogue, gate)
        for j in range(vec_cols, n):
            s = bias[j]
            for k in range(k_dim):
                s += A[i, k] * B[k, j]
            C[i, j] = _finish1(s, epilogue, gate[i, j])


@kernel(inline="always")
def _tn_tile4(A, G, C, k, j, i0, i1, rows):
    """``C[k:k+rows, j:j+8] = A[i0:i1, k:k+rows]^T @ G[i0:i1, j:j+8]``, summed over rows in order.

    ``rows`` <= 4: past the last row of C the tile reads the last column of A again and drops
    the results, so an inner-dimension remainder runs at the speed of a full tile.
    """
    n = G.shape[1]
    width = A.shape[1]
    last = C.shape[0] - 1
    k1, k2, k3 = min(k + 1, last), min(k + 2, last), min(k + 3, last)
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = splat4(0.0)
    for i in range(i0, i1):
        g0 = load4(G, i * n + j)
        g1 = load4(G, i * n + j + 4)
        row = i * width
        a = splat4_at(A, row + k)
        c00 = fma4(a, g0, c00)
        c01 = fma4(a, g1, c01)
        a = splat4_at(A, row + k1)
        c10 = fma4(a, g0, c10)
        c11 = fma4(a, g1, c11)
        a = splat4_at(A, row + k2)
        c20 = fma4(a, g0, c20)
        c21 = fma4(a, g1, c21)
        a = splat4_at(A, row + k3)
        c30 = fma4(a, g0, c30)
        c31 = fma4(a, g1, c31)
    store4(C, k * n + j, c00)
    store4(C, k * n + j + 4, c01)
    if rows > 1:
        store4(C, (k + 1) * n + j, c10)
        store4(C, (k + 1) * n + j + 4, c11)
    if rows > 2:
        store4(C, (k + 2) * n + j, c20)
        store4(C, (k + 2) * n + j + 4, c21)
    if rows > 3:
        store4(C, (k + 3) * n + j, c30)
        store4(C, (k + 3) * n + j + 4, c31)


@kernel
def gemm_tn(A, G, C, i0, i1):
    """``C = A[i0:i1]^T @ G[i0:i1]`` with A (n, K), G (n, N), C (K, N)."""
    k_dim, n = C.shape
    vec_cols = n - n % TILE_COLS
    for j in range(0, vec_cols, TILE_COLS):
        for k in range(0, k_dim, TILE_ROWS):
            _tn_tile4(A, G, C, k, j, i0, i1, min(TILE_ROWS, k_dim - k))
    for k in range(k_dim):
        for j in range(vec_cols, n):
            s = 0.0
            for i in range(i0, i1):
                s += A[i, k] * G[i, j]
            C[k, j] = s
