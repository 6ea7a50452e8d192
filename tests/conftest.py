"""Every shared fixture lives in tests/harness/fixtures.py (see tests/harness/__init__.py)."""

pytest_plugins = ["tests.harness.fixtures"]
