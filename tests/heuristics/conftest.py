import pytest

from tests.heuristics.samples import Stages


@pytest.fixture(scope="session")
def stages() -> Stages:
    return Stages()
