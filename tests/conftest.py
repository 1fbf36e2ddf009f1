"""Shared test configuration: hypothesis profiles, and the ``early`` tests first.

``deadline=None`` always, because the first call of a numba kernel compiles it. When the
``CI`` environment variable is set the ``ci`` profile is loaded: derandomized, so a CI run
is reproducible.

Tests marked ``early`` (one long subprocess each) are collected first, so that a worker of
``--dist loadfile`` starts them at once instead of running them alone at the end.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, derandomize=True, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("early") is None)   # stable: the rest keep their order
