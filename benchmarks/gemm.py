"""Hand-tiled products of :mod:`theorytk._gemm` against BLAS called from the same row blocks.

Both systems that use the tiles (``mfld``, ``dfiv``) cut their rows into blocks and run the
blocks in a ``prange``. The alternative to hand-written tiles is to call BLAS from each
block: ``np.dot`` inside numba (numba calls SciPy's BLAS), one BLAS thread per call. This
benchmark times the two on the real shapes, one after the other in one run, with the same
blocks and threads:

* ``mfld forward`` / ``mfld backward``: the mean-field step's ``H = X Zp`` (``gemm_nn``) and
  ``G = S Zp^T`` (``gemm_nt``) in blocks of ``theorytk.mfld._kernels.BLOCK`` particles, for
  the large case (N = 2000, n = 1000, d = 20) and the validation's (N = 512, n = 16, d = 1);
* ``dfiv ...``: the demand-design networks' 128 -> 64 layer on 5000 rows in 40 blocks of 125:
  forward ``A W + b`` and input gradient ``delta W^T`` (``gemm_nn``), weight gradient
  ``A^T delta`` per block (``gemm_tn``).

The BLAS column uses however many threads BLAS is allowed (``OPENBLAS_NUM_THREADS``; the
header prints what threadpoolctl reports): with more than one, the calls from several numba
threads contend inside the library.
"""
import numba
import numpy as np
from numba import prange

from benchmarks._timing import alternating_medians, table
from theorytk import _gemm
from theorytk.mfld._kernels import BLOCK


@numba.njit(parallel=True)
def _tiles_nn(A, B, bias, C, block):
    for b in prange((A.shape[0] + block - 1) // block):
        _gemm.gemm_nn(A, B, bias, C, b * block, min(A.shape[0], (b + 1) * block), _gemm.PLAIN, C)


@numba.njit(parallel=True)
def _blas_nn(A, B, bias, C, block):
    for b in prange((A.shape[0] + block - 1) // block):
        i0, i1 = b * block, min(A.shape[0], (b + 1) * block)
        np.dot(A[i0:i1], B, C[i0:i1])
        for i in range(i0, i1):
            for j in range(C.shape[1]):
                C[i, j] += bias[j]


@numba.njit(parallel=True)
def _tiles_nt(A, B, C, block):
    for b in prange((A.shape[0] + block - 1) // block):
        _gemm.gemm_nt(A, B, C, b * block, min(A.shape[0], (b + 1) * block))


@numba.njit(parallel=True)
def _blas_nt(A, Bt, C, block):
    for b in prange((A.shape[0] + block - 1) // block):
        i0, i1 = b * block, min(A.shape[0], (b + 1) * block)
        np.dot(A[i0:i1], Bt, C[i0:i1])


@numba.njit(parallel=True)
def _tiles_tn(A, G, out, block):
    for b in prange(out.shape[0]):
        _gemm.gemm_tn(A, G, out[b], b * block, min(A.shape[0], (b + 1) * block))


@numba.njit(parallel=True)
def _blas_tn(A, G, out, block):
    for b in prange(out.shape[0]):
        i0, i1 = b * block, min(A.shape[0], (b + 1) * block)
        np.dot(A[i0:i1].T, G[i0:i1], out[b])


def _cases(scale=1.0):
    """(name, flops, tiled call, BLAS call, result arrays of each) for every shape; ``scale`` shrinks the rows."""
    rng = np.random.default_rng(0)
    cases = []
    for label, N, n, d in (("large", 2000, 1000, 20), ("validation", 512, 16, 1)):
        N, n = max(8, int(N * scale)), max(8, int(n * scale)) // 8 * 8
        X, Zp = rng.standard_normal((N, d + 1)), rng.standard_normal((d + 1, n))
        S, ZpT = rng.standard_normal((N, n)), np.ascontiguousarray(Zp.T)
        H1, H2, G1, G2 = np.empty((N, n)), np.empty((N, n)), np.empty((N, d + 1)), np.empty((N, d + 1))
        zero = np.zeros(n)
        flops = 2.0 * N * n * (d + 1)
        cases.append((f"mfld forward {label} ({N}x{d + 1})@({d + 1}x{n})", flops,
                      lambda X=X, Zp=Zp, z=zero, H=H1: _tiles_nn(X, Zp, z, H, BLOCK),
                      lambda X=X, Zp=Zp, z=zero, H=H2: _blas_nn(X, Zp, z, H, BLOCK), H1, H2))
        cases.append((f"mfld backward {label} ({N}x{n})@({n}x{d + 1})", flops,
                      lambda S=S, Zp=Zp, G=G1: _tiles_nt(S, Zp, G, BLOCK),
                      lambda S=S, ZpT=ZpT, G=G2: _blas_nt(S, ZpT, G, BLOCK), G1, G2))
    rows, block = max(125, int(5000 * scale)), 125
    A, W, delta = rng.standard_normal((rows, 128)), rng.standard_normal((128, 64)), rng.standard_normal((rows, 64))
    Wt, bias128, bias64 = np.ascontiguousarray(W.T), rng.standard_normal(128), rng.standard_normal(64)
    nblk = (rows + block - 1) // block
    C1, C2, D1, D2 = np.empty((rows, 64)), np.empty((rows, 64)), np.empty((rows, 128)), np.empty((rows, 128))
    P1, P2 = np.empty((nblk, 128, 64)), np.empty((nblk, 128, 64))
    flops = 2.0 * rows * 128 * 64
    cases.append((f"dfiv forward ({rows}x128)@(128x64)", flops, lambda: _tiles_nn(A, W, bias64, C1, block),
                  lambda: _blas_nn(A, W, bias64, C2, block), C1, C2))
    cases.append((f"dfiv input gradient ({rows}x64)@(64x128)", flops, lambda: _tiles_nn(delta, Wt, bias128, D1, block),
                  lambda: _blas_nn(delta, Wt, bias128, D2, block), D1, D2))
    cases.append((f"dfiv weight gradient per block (125x128)^T@(125x64) x{nblk}", flops,
                  lambda: _tiles_tn(A, delta, P1, block), lambda: _blas_tn(A, delta, P2, block), P1, P2))
    return cases


def blas_threads():
    """The BLAS libraries' thread limits as threadpoolctl reports them (or 'unknown')."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl absent)"
    return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info() if i["user_api"] == "blas")


def main(scale=1.0, repeats=5):
    """Time tiles and BLAS on every shape (alternating, in one run); print and return the rows."""
    rows = []
    for name, flops, tiled, blas, out_tiled, out_blas in _cases(scale):
        tiled(), blas()
        agree = float(np.abs(out_tiled - out_blas).max())
        t, spread = alternating_medians({"tiles": tiled, "blas": blas}, repeats, min_time=0.05)
        tt, tb = t["tiles"], t["blas"]
        rows.append({"product (blocks in prange)": name, "tiles GFLOP/s": flops / tt / 1e9,
                     "BLAS GFLOP/s": flops / tb / 1e9, "tiles/BLAS speed": tb / tt,
                     "spread tiles": spread["tiles"], "spread BLAS": spread["blas"],
                     "max |diff|": agree})
    print(f"numba threads {numba.get_num_threads()}; BLAS threads: {blas_threads()}")
    print(table(rows, list(rows[0])))
    return rows


if __name__ == "__main__":
    main()
