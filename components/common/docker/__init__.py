"""Helpers every Docker component shares: container specs and their pulumi-docker resources."""
