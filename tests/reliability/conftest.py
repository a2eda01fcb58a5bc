"""Harness of the reliability suite: the end-to-end harness (tests/e2e/conftest.py: real
binaries on free loopback ports, stopped by pid) loaded under its own name and re-exported,
so the attack replays here share its fixtures and helpers."""
import importlib.util
import sys
from pathlib import Path

E2E = Path(__file__).resolve().parents[1] / "e2e"
_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)
globals().update({k: v for k, v in vars(_harness).items() if not k.startswith("__")})
sys.path.insert(0, str(E2E))   # collector_helpers, handler_common
