"""Helpers every Kubernetes component shares: manifest builders, pod security, resource registration."""
