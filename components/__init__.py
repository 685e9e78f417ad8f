"""Reusable Pulumi ComponentResources, one folder per capability, each with its pure renderers."""
