"""tfs-rollout: validate a model folder, canary with Prometheus gates, promote, blue/green, rollback,
diagnose. `cli` is the entry point (scripts/tfs-rollout); `plan` holds the pure planning logic."""
