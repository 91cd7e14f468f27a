"""Task specs, the corpus policy (mixture.yaml), their JSON schemas and YAML positions, licences
and the table of drop reasons."""
