"""Work lost past its retries (workers or nodes died) ends a run with a clear, resumable
error instead of a Ray traceback; errors raised by the code itself are left alone."""

import os

import pytest

from corpus.core.cluster import ClusterLost, RunnerConfig, ray_session
from corpus.core.errors import CodecorpusError

pytestmark = pytest.mark.usefixtures("ray_local")


def _die() -> None:
    os._exit(1)  # the worker process vanishes, as on a lost node


def test_a_worker_dying_past_its_retries_is_a_clear_error() -> None:
    import ray

    die = ray.remote(_die).options(max_retries=0)
    with (
        pytest.raises(ClusterLost, match="rerun the same command") as caught,
        ray_session(RunnerConfig()),
    ):
        ray.get(die.remote())
    assert isinstance(caught.value, CodecorpusError)  # the CLI prints one line
    assert isinstance(caught.value.__cause__, ray.exceptions.WorkerCrashedError)


def _fail() -> None:
    raise CodecorpusError("bad input")


def test_errors_of_the_task_itself_pass_through() -> None:
    import ray

    with pytest.raises(CodecorpusError, match="bad input") as caught, ray_session(RunnerConfig()):
        ray.get(ray.remote(_fail).options(max_retries=0).remote())
    assert not isinstance(caught.value, ClusterLost)
