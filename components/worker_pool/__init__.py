"""A pool of workers (the API tier, Celery pools): pure manifest builders and the Kubernetes component."""
