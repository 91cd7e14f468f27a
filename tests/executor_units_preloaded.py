"""A module only tests/test_executors.py's pool workers import, when the pool starts."""
