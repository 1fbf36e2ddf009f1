"""validations._figures.save: empty and clipped panels are refused, warnings are errors, the write is atomic."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from validations._figures import FigureProblem, panel_problems, save


def _axes(**kw):
    fig = Figure(figsize=(4, 3))
    return fig, fig.add_subplot(**kw)


def test_a_good_figure_is_written_and_no_partial_file_is_left(tmp_path):
    fig, ax = _axes()
    ax.loglog([1, 10, 100], [1.0, 0.1, 0.01], "o-", label="data")
    ax.axhline(0.5, color="k")                          # axes-coordinate artists are not data
    ax.fill_between([1, 100], [0.5, 0.005], [2, 0.02], alpha=0.2)
    save(fig, tmp_path / "good.png")
    assert (tmp_path / "good.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["good.png"]


def test_an_empty_panel_is_refused(tmp_path):
    fig = Figure()
    left, right = fig.subplots(1, 2)
    left.plot([0, 1], [0, 1], "o")
    right.set_title("nothing here")
    with pytest.raises(FigureProblem, match=r"panel 1 \(nothing here\): shows no data"):
        save(fig, tmp_path / "empty.png")
    assert not any(tmp_path.iterdir())


def test_points_outside_fixed_limits_are_refused():
    fig, ax = _axes()
    ax.plot([1, 2, 3], [0.5, 5.0, 50.0], "s", label="measured")
    ax.set_ylim(0, 10)
    (problem,) = panel_problems(fig)
    assert "1 of 3 points of 'measured' outside the axes" in problem


def test_non_positive_values_on_a_log_axis_count_as_clipped():
    fig, ax = _axes()
    ax.semilogy([1, 2, 3], [1.0, 0.0, -1.0], "o", label="risk")
    assert "2 of 3 points of 'risk'" in panel_problems(fig)[0]


def test_a_curve_may_run_past_the_limits_but_not_lie_wholly_outside():
    fig, ax = _axes()
    ax.plot([0, 1], [0, 1], "o")
    ax.plot(np.linspace(-5, 5, 11), np.linspace(-5, 5, 11), "--", label="bound")
    ax.plot([0, 1], [50, 60], ":", label="overflowed bound")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    assert panel_problems(fig) == ["panel 0 (untitled): the curve 'overflowed bound' lies entirely outside the axes"]


def test_a_warning_while_laying_out_is_an_error(tmp_path):
    fig = Figure(figsize=(1, 1))
    for ax in fig.subplots(4, 4).ravel():
        ax.plot([1, 2], [1, 2], "o")
        ax.set(xlabel="a long label on the x axis", ylabel="a long label on the y axis")
    with pytest.raises(UserWarning, match="[Tt]ight layout not applied"):
        save(fig, tmp_path / "warned.png")


def test_a_scatter_counts_as_data_and_is_checked_by_its_offsets():
    fig, ax = _axes()
    ax.scatter([0.0, 1.0], [0.0, 1.0], s=4)
    assert panel_problems(fig) == []
    ax.set_xlim(0.5, 2.0)
    assert "1 of 2 points" in panel_problems(fig)[0]
