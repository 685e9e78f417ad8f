"""HAProxy in front of the API pool: the haproxy.cfg renderer, manifests, and the Kubernetes component."""
