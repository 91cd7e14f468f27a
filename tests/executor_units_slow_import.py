"""A module whose import takes a minute: tests/test_executors.py preloads it in pool workers to
catch them while they are still starting."""

import time

time.sleep(60)
