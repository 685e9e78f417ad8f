"""Per-environment settings, their loading from Pulumi config, and the composition of stacks."""
