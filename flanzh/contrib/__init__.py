"""Contributor tools: lint and its rules, scaffold, catalog, preview, reference, doctor."""
