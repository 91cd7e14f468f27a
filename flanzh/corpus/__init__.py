"""Steps across tasks: decontamination, exact dedup and near dedup."""
