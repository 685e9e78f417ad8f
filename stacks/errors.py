"""The one error type a user sees for bad configuration: every problem, each naming its key."""

from __future__ import annotations

from dataclasses import dataclass

CONFIG_NAMESPACE = "teknofest-platform"


@dataclass(frozen=True)
class Problem:
    key: str  # dotted path below the project namespace, e.g. "api.maxReplicas"
    value: str  # the offending value as the user wrote it, or "<secret>" / "<missing>"
    allowed: str  # what would be accepted

    def render(self) -> str:
        return f"{CONFIG_NAMESPACE}:{self.key} = {self.value}: {self.allowed}"


class SettingsError(Exception):
    """Raised before any resource is registered; its message is the whole report."""

    def __init__(self, problems: list[Problem], source: str) -> None:
        self.problems = problems
        self.source = source
        lines = [f"invalid configuration in {source} ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
        lines += [f"  - {problem.render()}" for problem in problems]
        super().__init__("\n".join(lines))
