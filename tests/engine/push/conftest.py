"""Fixtures of the push tests with injected faults (see fault_harness.py)."""

from tests.engine.push.fault_harness import world

__all__ = ["world"]
