"""Recommended Kubernetes labels; selectors use only the stable subset."""

from __future__ import annotations

PART_OF = "teknofest-platform"
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
# Carried by exactly the one Service a ServiceMonitor should scrape: a headless twin with the same
# pods and port would otherwise make every pod a target twice.
METRICS_SERVICE = "teknofest.org/metrics"
# Names ConfigMaps whose data is a generated config file, so the offline synth can write it out.
RENDERED_CONFIG_ANNOTATION = "teknofest.org/rendered-config"


def selector_labels(name: str) -> dict[str, str]:
    """Immutable once a Deployment/StatefulSet exists: keep it to name + part-of."""
    return {NAME: name, "app.kubernetes.io/part-of": PART_OF}


def standard_labels(name: str, component: str, environment: str, version: str | None = None) -> dict[str, str]:
    labels = {
        **selector_labels(name),
        COMPONENT: component,
        "app.kubernetes.io/managed-by": "pulumi",
        "teknofest.org/environment": environment,
    }
    if version:
        labels["app.kubernetes.io/version"] = image_version(version)
    return labels


def image_version(image: str) -> str:
    """The tag (or digest prefix) of an image reference, shortened to a valid label value."""
    reference = image.split("@", 1)
    if len(reference) == 2:
        return reference[1].replace("sha256:", "sha256-")[:63]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1][:63] if ":" in last else "unknown"
