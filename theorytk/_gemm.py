"""Register-tiled small matrix products for numba kernels that run on one row block per thread.

BLAS is the right tool for one large product, but the DFIV networks and the mean-field step
run thousands of small products, one per row block and thread (a block of 125 rows times a
128 x 64 weight matrix; 24 particles times the ``(d+1) x n`` extended inputs), where a
pthreads BLAS called from several numba threads at once contends inside the library, and a
single-threaded one was slower than these tiles on most of those shapes (see below). These products are
written with the explicit 4-lane vectors of :mod:`theorytk._vecmath`: a tile of 6 rows x 8
columns keeps its 12 accumulators in registers (with two operand vectors and a broadcast,
15 of the 16 AVX2 registers) while the inner dimension runs, in order, so every result is a
fixed sequence of fused multiply-adds whatever the thread count or tile shape.

A tile that would run past the last row reads that row again and drops the extra results,
so a remainder costs one full tile instead of a slow scalar loop. How fast the tiles are,
against BLAS called from the same row blocks and against other tile shapes, is measured by
``python -m benchmarks gemm`` and recorded in ``benchmarks/MEASUREMENTS.md``.

* :func:`gemm_nn`: ``C[r] = A[r] @ B + bias`` for the rows r in ``[i0, i1)``, with the ReLU
  (forward pass) or the ReLU derivative (input gradients, ``B = W^T``) fused into the store;
* :func:`gemm_tn`: ``C = A[i0:i1]^T @ G[i0:i1]`` (weight gradients of a row block);
* :func:`column_sums`: ``out = G[i0:i1].sum(axis=0)`` (bias gradients of a row block);
* :func:`gram_upper`: the tiles of ``A[i0:i1]^T @ A[i0:i1]`` that hold its upper triangle
  (about 60% of the tiles of a 40 x 40 Gram matrix);
* :func:`gemm_nt`: ``C[r] = A[r] @ B^T`` for the rows r in ``[i0, i1)`` when ``B`` has few,
  long rows (the mean-field step's gradient: a block of particles' ``S`` times the ``d + 1``
  rows of the extended inputs). Its 4 x 3 tiles are dot products along the rows, in 4-lane
  partial sums reduced by :func:`theorytk._vecmath.sum4` at the end.

All arrays are C-contiguous float64; no bounds checks (the callers own the shapes).
"""
from theorytk._jit import kernel
from theorytk._vecmath import add4, fma4, keep_where_positive4, load4, relu4, splat4, splat4_at, store4, sum4

TILE_ROWS = 6
TILE_COLS = 8
NT_ROWS = 4   # rows of A per gemm_nt tile
NT_COLS = 3   # rows of B (columns of C) per gemm_nt tile

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
def _store_row(C, at, epilogue, gate, c0, c1):
    store4(C, at, _finish4(c0, epilogue, load4(gate, at)))
    store4(C, at + 4, _finish4(c1, epilogue, load4(gate, at + 4)))


@kernel(inline="always")
def _store_rows(C, r, j, rows, epilogue, gate, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51):
    """Store the first ``rows`` rows of a 6 x 8 tile at ``C[r:r+rows, j:j+8]`` through the epilogue.

    Branch-free: tile row t goes to row ``r + min(t, rows - 1)``, last row first, so the
    surplus rows land on the last valid row before its own values overwrite them. (Branches
    around stores that take arrays would make numba count references on every tile.)
    """
    n, top = C.shape[1], rows - 1
    _store_row(C, (r + min(5, top)) * n + j, epilogue, gate, c50, c51)
    _store_row(C, (r + min(4, top)) * n + j, epilogue, gate, c40, c41)
    _store_row(C, (r + min(3, top)) * n + j, epilogue, gate, c30, c31)
    _store_row(C, (r + min(2, top)) * n + j, epilogue, gate, c20, c21)
    _store_row(C, (r + min(1, top)) * n + j, epilogue, gate, c10, c11)
    _store_row(C, r * n + j, epilogue, gate, c00, c01)


@kernel(inline="always")
def _rank1_6x8(A, o0, o1, o2, o3, o4, o5, b0, b1, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51):
    """One rank-1 update of a 6 x 8 tile: row t of the tile += ``A.flat[o_t] * [b0, b1]`` (12 FMAs)."""
    a = splat4_at(A, o0)
    c00, c01 = fma4(a, b0, c00), fma4(a, b1, c01)
    a = splat4_at(A, o1)
    c10, c11 = fma4(a, b0, c10), fma4(a, b1, c11)
    a = splat4_at(A, o2)
    c20, c21 = fma4(a, b0, c20), fma4(a, b1, c21)
    a = splat4_at(A, o3)
    c30, c31 = fma4(a, b0, c30), fma4(a, b1, c31)
    a = splat4_at(A, o4)
    c40, c41 = fma4(a, b0, c40), fma4(a, b1, c41)
    a = splat4_at(A, o5)
    c50, c51 = fma4(a, b0, c50), fma4(a, b1, c51)
    return c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51


@kernel(inline="always")
def _nn_tile(A, B, C, i, j, i1, bias, epilogue, gate):
    """``C[i:i+6, j:j+8] = epilogue(A[i:i+6] @ B[:, j:j+8] + bias[j:j+8])`` for the rows below ``i1``."""
    k_dim, n = B.shape
    width, last = A.shape[1], i1 - 1
    r0, r1, r2 = i * width, min(i + 1, last) * width, min(i + 2, last) * width
    r3, r4, r5 = min(i + 3, last) * width, min(i + 4, last) * width, min(i + 5, last) * width
    c00 = load4(bias, j)
    c01 = load4(bias, j + 4)
    c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 = c00, c01, c00, c01, c00, c01, c00, c01, c00, c01
    for k in range(k_dim):
        c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 = _rank1_6x8(
            A, r0 + k, r1 + k, r2 + k, r3 + k, r4 + k, r5 + k, load4(B, k * n + j), load4(B, k * n + j + 4),
            c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51)
    _store_rows(C, i, j, min(TILE_ROWS, i1 - i), epilogue, gate,
                c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51)


@kernel
def gemm_nn(A, B, bias, C, i0, i1, epilogue, gate):
    """``C[i0:i1] = epilogue(A[i0:i1] @ B + bias)`` with A (n, K), B (K, N), bias (N,), C and gate (n, N).

    ``epilogue`` is :data:`PLAIN`, :data:`RELU` or :data:`GATE` (``gate`` is read only for
    GATE; pass any C-contiguous float64 array of C's shape otherwise).
    """
    k_dim, n = B.shape
    vec_cols = n - n % TILE_COLS
    for i in range(i0, i1, TILE_ROWS):
        for j in range(0, vec_cols, TILE_COLS):
            _nn_tile(A, B, C, i, j, i1, bias, epilogue, gate)
    for i in range(i0, i1):
        for j in range(vec_cols, n):
            s = bias[j]
            for k in range(k_dim):
                s += A[i, k] * B[k, j]
            C[i, j] = _finish1(s, epilogue, gate[i, j])


@kernel(inline="always")
def _tn_tile(A, G, C, k, j, i0, i1):
    """``C[k:k+6, j:j+8] = A[i0:i1, k:k+6]^T @ G[i0:i1, j:j+8]`` for the rows of C, summed over rows in order."""
    n = G.shape[1]
    width, last = A.shape[1], C.shape[0] - 1
    k1, k2, k3 = min(k + 1, last), min(k + 2, last), min(k + 3, last)
    k4, k5 = min(k + 4, last), min(k + 5, last)
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = splat4(0.0)
    for i in range(i0, i1):
        row = i * width
        c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 = _rank1_6x8(
            A, row + k, row + k1, row + k2, row + k3, row + k4, row + k5, load4(G, i * n + j), load4(G, i * n + j + 4),
            c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51)
    _store_rows(C, k, j, min(TILE_ROWS, C.shape[0] - k), PLAIN, C,
                c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51)


@kernel
def gemm_tn(A, G, C, i0, i1):
    """``C = A[i0:i1]^T @ G[i0:i1]`` with A (n, K), G (n, N), C (K, N)."""
    k_dim, n = C.shape
    vec_cols = n - n % TILE_COLS
    for k in range(0, k_dim, TILE_ROWS):
        for j in range(0, vec_cols, TILE_COLS):
            _tn_tile(A, G, C, k, j, i0, i1)
    for k in range(k_dim):
        for j in range(vec_cols, n):
            s = 0.0
            for i in range(i0, i1):
                s += A[i, k] * G[i, j]
            C[k, j] = s


@kernel
def gram_upper(A, C, i0, i1):
    """The tiles of ``C = A[i0:i1]^T @ A[i0:i1]`` that cover ``C[a, b]`` for every ``b >= a``.

    A is (n, K) with K a multiple of :data:`TILE_COLS`; entries below the diagonal outside
    those tiles are left as they were (the caller mirrors the upper triangle).
    """
    k_dim = C.shape[0]
    for k in range(0, k_dim, TILE_ROWS):
        for j in range(k - k % TILE_COLS, k_dim, TILE_COLS):
            _tn_tile(A, A, C, k, j, i0, i1)


@kernel
def column_sums(G, out, i0, i1):
    """``out[j] = sum(G[i, j] for i in range(i0, i1))``, rows in order, 8 columns per pass in registers."""
    n = G.shape[1]
    vec_cols = n - n % TILE_COLS
    for j in range(0, vec_cols, TILE_COLS):
        c0 = c1 = splat4(0.0)
        for i in range(i0, i1):
            c0 = add4(c0, load4(G, i * n + j))
            c1 = add4(c1, load4(G, i * n + j + 4))
        store4(out, j, c0)
        store4(out, j + 4, c1)
    for j in range(vec_cols, n):
        s = 0.0
        for i in range(i0, i1):
            s += G[i, j]
        out[j] = s


@kernel(inline="always")
def _nt_tile(A, B, C, i, k, i1):
    """``C[i:i+4, k:k+3] = A[i:i+4] @ B[k:k+3]^T`` for the rows below ``i1`` and the rows of ``B``.

    Twelve 4-lane accumulators run over the columns in order (4 at a time); each is then
    reduced by :func:`sum4`. Tile rows past ``i1`` (or past the last row of ``B``) read the
    last valid row again; their results are stored first and then overwritten by the valid
    ones (branch-free, as in :func:`_store_rows`).
    """
    m, last_i, last_k = A.shape[1], i1 - 1, B.shape[0] - 1
    a0, a1, a2, a3 = i * m, min(i + 1, last_i) * m, min(i + 2, last_i) * m, min(i + 3, last_i) * m
    b0, b1, b2 = k * m, min(k + 1, last_k) * m, min(k + 2, last_k) * m
    c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = splat4(0.0)
    for j in range(0, m, 4):
        z0, z1, z2 = load4(B, b0 + j), load4(B, b1 + j), load4(B, b2 + j)
        s = load4(A, a0 + j)
        c00, c01, c02 = fma4(s, z0, c00), fma4(s, z1, c01), fma4(s, z2, c02)
        s = load4(A, a1 + j)
        c10, c11, c12 = fma4(s, z0, c10), fma4(s, z1, c11), fma4(s, z2, c12)
        s = load4(A, a2 + j)
        c20, c21, c22 = fma4(s, z0, c20), fma4(s, z1, c21), fma4(s, z2, c22)
        s = load4(A, a3 + j)
        c30, c31, c32 = fma4(s, z0, c30), fma4(s, z1, c31), fma4(s, z2, c32)
    top_i, top_k = min(3, last_i - i), min(2, last_k - k)
    for t, c0, c1, c2 in ((3, c30, c31, c32), (2, c20, c21, c22), (1, c10, c11, c12), (0, c00, c01, c02)):
        r = i + min(t, top_i)
        C[r, k + min(2, top_k)] = sum4(c2)
        C[r, k + min(1, top_k)] = sum4(c1)
        C[r, k] = sum4(c0)


@kernel
def gemm_nt(A, B, C, i0, i1):
    """``C[i0:i1] = A[i0:i1] @ B^T`` with A (n, m), B (K, m), C (n, K); m a multiple of 4.

    Pad the rows of A and B with zeros to a multiple of 4 columns. Every entry is a fixed
    sequence of 4-lane fused multiply-adds over the columns in order, then one :func:`sum4`.
    """
    for k in range(0, B.shape[0], NT_COLS):   # a tile of B's rows stays in cache while the rows of A pass
        for i in range(i0, i1, NT_ROWS):
            _nt_tile(A, B, C, i, k, i1)
