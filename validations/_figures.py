"""Saving a validation's figure: the layout, a check that every panel shows its data, an atomic write.

Every ``validations/_<name>_plots.py`` saves through :func:`save`, so each quick run (the CLI
tests) checks each of its figures:

* **no empty panel**: every visible axes draws at least one data artist (a line, marker,
  collection, patch or image in data coordinates) with a point inside its limits;
* **no clipped data**: every *marker* (measured points: ``plot(..., "o")``, ``scatter``,
  ``errorbar``) lies inside the axes limits, and a non-positive value on a logarithmic axis
  counts as outside (matplotlib drops it silently). Curves without markers (bounds, fits) may
  run past the limits, but not entirely;
* **no warning**: a warning raised while the figure is laid out or drawn is an error.

Then the PNG is written to a temporary name beside ``path`` and renamed onto it, so that a
killed run never leaves a truncated image.
"""
import os
import warnings
from pathlib import Path

import numpy as np
from matplotlib.collections import Collection
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = ["FigureProblem", "panel_problems", "save"]


class FigureProblem(RuntimeError):
    """A figure would show an empty or clipped panel; the message names the panel and the artist."""


def _points(artist):
    """``(xy, has_markers)``: the artist's points in data coordinates (n x 2), or None if it has none."""
    if isinstance(artist, Line2D):
        xy = np.asarray(artist.get_xydata(), dtype=float).reshape(-1, 2)
        return xy, artist.get_marker() not in (None, "None", "", " ")
    if isinstance(artist, Collection):
        offsets = np.asarray(artist.get_offsets(), dtype=float).reshape(-1, 2)
        if offsets.size and _in_data(artist.get_offset_transform(), artist.axes):
            return offsets, True
        paths = [p.vertices for p in artist.get_paths() if len(p.vertices)]
        return (np.concatenate(paths), False) if paths else None
    if isinstance(artist, Patch):
        path = artist.get_path().transformed(artist.get_patch_transform())
        return np.asarray(path.vertices, dtype=float).reshape(-1, 2), False
    if isinstance(artist, AxesImage):
        left, right, bottom, top = artist.get_extent()
        return np.array([[left, bottom], [right, top]], dtype=float), False
    return None


def _inside(ax, xy):
    """Per point: finite, inside both axis ranges, and positive on a logarithmic axis."""
    ok = np.all(np.isfinite(xy), axis=1)
    for column, (scale, limits) in enumerate(((ax.get_xscale(), ax.get_xlim()), (ax.get_yscale(), ax.get_ylim()))):
        lo, hi = min(limits), max(limits)
        values = xy[:, column]
        span = (np.log(hi) - np.log(lo)) if scale == "log" and lo > 0 else hi - lo
        slack = 1e-9 * abs(span)        # points on the frame count as inside
        with np.errstate(invalid="ignore", divide="ignore"):
            if scale == "log":
                ok &= (values > 0) & (np.log(values) >= np.log(lo) - slack) & (np.log(values) <= np.log(hi) + slack)
            else:
                ok &= (values >= lo - slack) & (values <= hi + slack)
    return ok


def _in_data(transform, ax):
    return transform.contains_branch(ax.transData)


def _data_artists(ax):
    """The visible artists placed in data coordinates (markers of a scatter by their offsets)."""
    for artist in (*ax.lines, *ax.collections, *ax.patches, *ax.images):
        placed = _in_data(artist.get_transform(), ax) or (
            isinstance(artist, Collection) and _in_data(artist.get_offset_transform(), ax))
        if artist.get_visible() and placed:
            yield artist


def panel_problems(fig):
    """Every empty or clipped panel of ``fig``, as sentences (see the module docstring); [] if none."""
    problems = []
    for k, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison or ax.get_label() == "<colorbar>":
            continue
        name = f"panel {k} ({ax.get_title() or ax.get_ylabel() or 'untitled'})"
        shown = False
        for artist in _data_artists(ax):
            found = _points(artist)
            if found is None or not len(found[0]):
                continue
            xy, markers = found
            inside = _inside(ax, xy)
            shown |= bool(inside.any())
            label = artist.get_label()
            if markers and not inside.all():
                (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
                problems.append(f"{name}: {int((~inside).sum())} of {len(xy)} points of {label!r} outside the axes "
                                f"x [{x0:.3g}, {x1:.3g}], y [{y0:.3g}, {y1:.3g}] ({ax.get_xscale()}/{ax.get_yscale()})")
            elif not inside.any() and np.isfinite(xy).all(axis=1).any():
                problems.append(f"{name}: the curve {label!r} lies entirely outside the axes")
        if not shown:
            problems.append(f"{name}: shows no data")
    return problems


def save(fig, path, dpi=120):
    """Lay out ``fig`` (tight layout unless it has a layout engine), check it, write it atomically to ``path``.

    Raises
    ------
    FigureProblem
        If :func:`panel_problems` finds an empty or clipped panel.
    Warning
        Any warning raised while laying out or drawing, as an error.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        fig.draw_without_rendering()     # the limits and the layout are final only once drawn
        problems = panel_problems(fig)
        if problems:
            raise FigureProblem(f"{path.name}: " + "; ".join(problems))
        partial = path.with_name(f".{path.name}.partial")
        try:
            fig.savefig(partial, dpi=dpi, format="png")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
