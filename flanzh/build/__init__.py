"""Orchestration (pipeline.py: only the order of steps), units and their results, executors, cache,
the parquet parts and shard writer, card and report."""

MANIFEST = "manifest.json"     # a built output's record of what it holds (see writer.py)
