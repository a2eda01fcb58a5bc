"""wait_until: poll a condition until it holds or time runs out, for the e2e and docker
suites.  Kept out of conftest.py so that a suite with its own conftest can import it."""
import time


def wait_until(pred, timeout=20.0, step=0.05):
    """pred()'s first truthy value within timeout seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
