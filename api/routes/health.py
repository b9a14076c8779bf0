"""Liveness, readiness and Prometheus metrics (no API key: for probes and scrapers)."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StateDep
from api.problems import Problem
from api.responses import problems
from api.schemas import Health, Readiness

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, operation_id="health")
def health() -> Health:
    """The process answers (liveness)."""
    return Health()


@router.get("/ready", response_model=Readiness, responses=problems(503), operation_id="ready")
def ready(state: StateDep) -> Readiness:
    """The catalog database and the key table answer (readiness)."""
    try:
        datasets = state.versions.datasets()
        state.keys.list()
    except Exception as exc:
        raise Problem(
            503,
            "catalog-unavailable",
            f"the catalog cannot be reached ({type(exc).__name__}: {exc}); check "
            "CODECORPUS_HOME / CODECORPUS_CATALOG_URI and that the database is up",
        ) from exc
    return Readiness(datasets=len(datasets))


@router.get(
    "/metrics",
    response_class=Response,
    operation_id="metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: requests and latency by route template and status."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
