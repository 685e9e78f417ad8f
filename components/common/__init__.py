"""Helpers every component shares: labels, pod security, and turning manifests into resources."""
