from __future__ import annotations

import pytest

from components.common.quantities import cpu_millicores, memory_bytes


@pytest.mark.parametrize(("text", "millis"), [("500m", 500), ("2", 2000), ("0.5", 500), ("1.25", 1250)])
def test_cpu(text: str, millis: int) -> None:
    assert cpu_millicores(text) == millis


@pytest.mark.parametrize(("text", "size"), [("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("64Ki", 65536)])
def test_memory(text: str, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize("text", ["", "-1", "2Gi", "abc", "0", "1.5.5"])
def test_bad_cpu(text: str) -> None:
    with pytest.raises(ValueError):
        cpu_millicores(text)


@pytest.mark.parametrize("text", ["", "1Xi", "m", "0Mi", "500m"])
def test_bad_memory(text: str) -> None:
    with pytest.raises(ValueError):
        memory_bytes(text)
