"""The mock engine refuses what `pulumi up` refuses: two resources with one URN."""

from __future__ import annotations

import pulumi_random as random
import pytest

from stacks.mock_engine import DuplicateUrnError, run_under_mocks


def test_two_resources_with_one_urn_are_refused() -> None:
    def program() -> None:
        random.RandomPassword("twice", length=8)
        random.RandomPassword("twice", length=8)

    with pytest.raises(DuplicateUrnError, match="RandomPassword::twice"):
        run_under_mocks(program)


def test_one_name_under_two_component_types_is_fine() -> None:
    def program() -> None:
        random.RandomPassword("once", length=8)
        random.RandomString("once", length=8)

    assert len(run_under_mocks(program).resources) == 2
