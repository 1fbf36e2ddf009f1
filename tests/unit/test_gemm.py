"""theorytk._gemm's register-tiled products equal NumPy's, on every tile-edge case (6 x 8 tiles; 4 x 3 for gemm_nt)."""
import numpy as np
import pytest

from theorytk import _gemm


@pytest.mark.parametrize("rows", [1, 5, 6, 7, 13, 130])      # around the 6-row tile (TILE_ROWS)
@pytest.mark.parametrize("k_dim", [1, 3, 6, 7, 64])
@pytest.mark.parametrize("cols", [1, 5, 8, 13, 32])
def test_products_equal_numpy_on_a_row_range(rows, k_dim, cols):
    rng = np.random.default_rng(rows * 1000 + k_dim * 10 + cols)
    a, b = rng.standard_normal((rows + 5, k_dim)), rng.standard_normal((k_dim, cols))
    bias, g = rng.standard_normal(cols), rng.standard_normal((rows + 5, cols))
    i0, i1 = 2, 2 + rows
    # tolerance: both sum at most 130 products of O(1) normals, in different orders (FMA tiles vs
    # BLAS), so they differ by a few ulps times sqrt(terms); 1e-12 is ~1e3 ulps, far below any error
    gate = rng.standard_normal((rows + 5, cols))
    product = a[i0:i1] @ b + bias
    expected = {_gemm.PLAIN: product, _gemm.RELU: np.maximum(product, 0.0),
                _gemm.GATE: np.where(gate[i0:i1] > 0.0, product, 0.0)}
    for epilogue, want in expected.items():
        c = np.full((rows + 5, cols), np.nan)
        _gemm.gemm_nn(a, b, bias, c, i0, i1, epilogue, gate)
        np.testing.assert_allclose(c[i0:i1], want, rtol=1e-12, atol=1e-12)
        assert np.isnan(c[:i0]).all() and np.isnan(c[i1:]).all()    # rows outside the range untouched
    w = np.empty((k_dim, cols))
    _gemm.gemm_tn(a, g, w, i0, i1)
    np.testing.assert_allclose(w, a[i0:i1].T @ g[i0:i1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cols", [3, 8])
def test_epilogues_keep_nan(cols):
    """A NaN product stays NaN through the ReLU, and a NaN gate keeps the value: divergence stays visible."""
    a, b = np.ones((4, 2)), np.ones((2, cols))
    a[1, 0] = np.nan
    for epilogue, gate in ((_gemm.RELU, np.ones((4, cols))), (_gemm.GATE, np.full((4, cols), np.nan))):
        c = np.empty((4, cols))
        _gemm.gemm_nn(a, b, np.zeros(cols), c, 0, 4, epilogue, gate)
        assert np.isnan(c[1]).all() and (c[[0, 2, 3]] == 2.0).all()


@pytest.mark.parametrize("rows", [1, 7, 130])
@pytest.mark.parametrize("width", [8, 16, 40])
def test_gram_upper_covers_the_upper_triangle(rows, width):
    rng = np.random.default_rng(rows + width)
    a = rng.standard_normal((rows + 4, width))
    c = np.full((width, width), np.nan)
    _gemm.gram_upper(a, c, 2, 2 + rows)
    upper = np.triu_indices(width)
    # same tolerance argument as above: summation order only
    np.testing.assert_allclose(c[upper], (a[2:2 + rows].T @ a[2:2 + rows])[upper], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 7, 130])
@pytest.mark.parametrize("cols", [1, 8, 13, 32])
def test_column_sums_equal_numpy(rows, cols):
    rng = np.random.default_rng(rows * 100 + cols)
    g = rng.standard_normal((rows + 4, cols))
    out = np.full(cols, np.nan)
    _gemm.column_sums(g, out, 2, 2 + rows)
    # summation order only (rows in order vs NumPy's pairwise sum)
    np.testing.assert_allclose(out, g[2:2 + rows].sum(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 33])                # around the 4-row tile (NT_ROWS)
@pytest.mark.parametrize("k_dim", [1, 2, 3, 4, 5, 21])             # around the 3-column tile (NT_COLS)
@pytest.mark.parametrize("width", [4, 8, 24])                      # columns: a multiple of 4, as documented
def test_gemm_nt_equals_numpy_on_a_row_range(rows, k_dim, width):
    rng = np.random.default_rng(rows * 1000 + k_dim * 10 + width)
    a, b = rng.standard_normal((rows + 5, width)), rng.standard_normal((k_dim, width))
    c = np.full((rows + 5, k_dim), np.nan)
    _gemm.gemm_nt(a, b, c, 2, 2 + rows)
    # summation order only (4-lane partial sums, then sum4), as for the products above
    np.testing.assert_allclose(c[2:2 + rows], a[2:2 + rows] @ b.T, rtol=1e-12, atol=1e-12)
    assert np.isnan(c[:2]).all() and np.isnan(c[2 + rows:]).all()    # rows outside the range untouched
