"""theorytk._validate.array refuses what numpy would convert silently or obscurely, naming the argument."""
import numpy as np
import pytest

from theorytk import _validate


@pytest.mark.parametrize("value, error, words", [
    (None, TypeError, "got None"),
    ("1.0", TypeError, "of type str"),
    (b"12", TypeError, "of type bytes"),
    ([[1.0, 2.0], [3.0]], ValueError, "ragged"),
    ([1.0, [2.0, 3.0]], ValueError, "ragged"),
    (["1", "2"], TypeError, "strings"),
    ([True, False], TypeError, "booleans"),
    (np.array([1.0, None], dtype=object), TypeError, "None"),
    ([1 + 2j], TypeError, "real"),
    (np.array(["2026-01-01"], dtype="datetime64[D]"), TypeError, "dtype datetime64"),
])
def test_refused_with_the_argument_named(value, error, words):
    with pytest.raises(error, match="x_train") as info:
        _validate.array("x_train", value)
    assert words in str(info.value)


def test_fractional_values_for_an_integer_array_are_refused():
    with pytest.raises(TypeError, match=r"counts must hold integers .*1 non-integral entries, e\.g\. 1\.5"):
        _validate.array("counts", [1.0, 1.5, 2.0], dtype=np.int64)
    with pytest.raises(TypeError, match="counts must hold integers"):
        _validate.array("counts", [1.0, np.nan], dtype=np.int64, finite=False)
    np.testing.assert_array_equal(_validate.array("counts", [1.0, 2.0], dtype=np.int64), [1, 2])


def test_good_input_passes_unchanged():
    out = _validate.array("x", [[1, 2], [3, 4]], ndim=2)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, [[1.0, 2.0], [3.0, 4.0]])
    flags = _validate.array("mask", [True, False], dtype=bool)
    np.testing.assert_array_equal(flags, [True, False])
    np.testing.assert_array_equal(_validate.array("z", [1 + 2j], dtype=np.complex128), [1 + 2j])
    np.testing.assert_array_equal(_validate.array("o", np.array([1.0, 2], dtype=object)), [1.0, 2.0])


def test_shape_and_finiteness_still_checked():
    with pytest.raises(ValueError, match=r"x must have shape \('any', 3\), got \(2, 2\)"):
        _validate.array("x", np.zeros((2, 2)), shape=(None, 3))
    with pytest.raises(ValueError, match="x must be finite, got 1 non-finite entries"):
        _validate.array("x", [1.0, np.inf])
