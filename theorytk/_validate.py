"""Argument checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad
value) with a message naming the argument, the value received and what is allowed, so that
bad input never reaches a numba kernel.
"""
from numbers import Integral, Real

import numpy as np


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(name, value, *, minimum=None, maximum=None):
    """Return ``value`` as ``int`` if it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def real(name, value, *, minimum=None, maximum=None, strict_minimum=False):
    """Return ``value`` as a finite ``float`` in the allowed range.

    ``strict_minimum=True`` excludes ``minimum`` itself (``value > minimum``).
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
        if not strict_minimum and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def positive(name, value):
    """Return ``value`` as a finite ``float`` that is strictly positive."""
    return real(name, value, minimum=0.0, strict_minimum=True)


def flag(name, value):
    """Return ``value`` as ``bool`` if it is one (``True``/``False`` or a NumPy bool); truthiness is not enough."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {_describe(value)} of type {type(value).__name__}")
    return bool(value)


def choice(name, value, allowed):
    """Return ``value`` if it is one of ``allowed`` (compared by equality; any type accepted)."""
    if not any(value is option or (type(value) is type(option) and value == option) for option in allowed):
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {_describe(value)}")
    return value


def nested(name, value, what):
    """``np.asarray(value)``, or, for ragged nesting (numpy's "setting an array element with a sequence"), a
    ``ValueError`` saying that ``name`` must be ``what``."""
    try:
        return np.asarray(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be {what}, got the ragged {_describe(value)}") from exc


def _numeric_array(name, value, dtype):
    """``np.asarray(value)`` for array-like numbers, or the error that names ``name`` and what was wrong."""
    want = np.dtype(dtype).name
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be array-like of {want}, got {_describe(value)} of type {type(value).__name__}")
    raw = nested(name, value, f"a rectangular array of {want} (every row the same length)")
    kind = raw.dtype.kind
    if kind in "US":
        raise TypeError(f"{name} must be array-like of {want}, got strings ({_describe(value)})")
    if kind == "b" and np.dtype(dtype).kind != "b":
        raise TypeError(f"{name} must be array-like of {want}, got booleans ({_describe(value)}); "
                        "pass numbers, e.g. value.astype(float), if that is what you mean")
    if kind == "c" and not np.issubdtype(np.dtype(dtype), np.complexfloating):
        raise TypeError(f"{name} must be real ({want}), got complex values")
    if kind == "O" and any(v is None or isinstance(v, (str, bytes, bool, np.bool_)) for v in raw.flat):
        raise TypeError(f"{name} must be array-like of {want}, got {_describe(value)} (None, strings or booleans "
                        "among its entries)")
    if kind not in "biufcO":
        raise TypeError(f"{name} must be array-like of {want}, got an array of dtype {raw.dtype}")
    if np.dtype(dtype).kind in "iu" and kind in "fc":
        with np.errstate(invalid="ignore"):
            fractional = ~np.isfinite(raw) | (raw != np.round(raw))
        if np.any(fractional):
            raise TypeError(f"{name} must hold integers ({want}), got {int(np.count_nonzero(fractional))} "
                            f"non-integral entries, e.g. {raw.flat[int(np.argmax(fractional))].item()!r}")
    return raw


def array(name, value, *, ndim=None, shape=None, finite=True, dtype=np.float64):
    """Return ``value`` as a C-contiguous array of ``dtype``, checking its shape.

    ``ndim`` may be an int or a tuple of allowed ranks; ``shape`` is a tuple whose entries
    are ints or ``None`` (any length). ``None``, strings, booleans, ragged nesting and (for
    a real ``dtype``) complex values are refused with an error naming ``name``: nothing is
    converted silently.
    """
    raw = _numeric_array(name, value, dtype)
    try:
        out = np.ascontiguousarray(raw, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be array-like of {np.dtype(dtype).name}, got {_describe(value)}") from exc
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if out.ndim not in allowed:
            raise ValueError(f"{name} must have ndim in {allowed}, got an array of shape {out.shape}")
    if shape is not None:
        if out.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, out.shape)):
            want = tuple("any" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {want}, got {out.shape}")
    if finite and out.size and not np.all(np.isfinite(out)):
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ValueError(f"{name} must be finite, got {bad} non-finite entries")
    return out


def seed(name, value):
    """Return a non-negative integer seed or a ``numpy.random.SeedSequence`` unchanged."""
    if isinstance(value, np.random.SeedSequence):
        return value
    return integer(name, value, minimum=0)
