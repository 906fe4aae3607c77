__version__ = "0.1.0"
# The distribution that installs this package (pyproject.toml; a test checks the two agree).
# Not "junjo": on PyPI that is the SDK, which owns the same import package.
DISTRIBUTION = "junjo-server"
