"""Install theorytk: numerical verification of machine-learning theory."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = {}
exec((HERE / "theorytk" / "_version.py").read_text(), VERSION)

setup(
    name="theorytk",
    version=VERSION["__version__"],
    description="Check machine-learning theory against simulation: bounds in sympy, fast numba solvers, honest verdicts.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["theorytk*", "proofs*", "validations*", "benchmarks*"]),
    install_requires=[
        "numpy>=1.26",
        "scipy>=1.11",
        "sympy>=1.12",
        "numba>=0.59",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "threadpoolctl>=3.1",
    ],
    entry_points={"console_scripts": ["theorytk = validations._cli:main"]},
    extras_require={
        "test": ["pytest>=7", "pytest-xdist>=3", "hypothesis>=6.80", "dask[distributed]>=2024.1", "deeptime>=0.4", "pandas>=2.0"],
        "frame": ["pandas>=2.0"],
        "dask": ["dask[distributed]>=2024.1"],
        "bench": ["jax[cpu]>=0.4"],
    },
)
