"""/v1/mixtures: a version + tokenizer + language weights + token budget, with its plan."""

from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import Field

from api.auth import ReadAccess, WriteAccess
from api.deps import CatalogDep, StateDep
from api.problems import bad_request, not_found
from api.responses import AUTH, problems
from api.schemas import Schema
from corpus.core.errors import ConfigError
from corpus.store.mixtures import Mixture, MixtureNotFound, create_mixture, get_mixture

router = APIRouter(prefix="/mixtures", tags=["mixtures"], responses=AUTH)


class MixtureRequest(Schema):
    dataset: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=128)
    tokenizer: str | None = Field(
        default=None, max_length=64, description="Default: the version's tokenizer"
    )
    weights: dict[str, float] = Field(min_length=1, description="Language -> weight > 0")
    token_budget: int = Field(gt=0, description="Training tokens of the whole mixture")


class ShardOut(Schema):
    prefix: str
    bin_sha256: str
    idx_sha256: str
    bin_bytes: int
    tokens: int
    documents: int
    dtype: str


class ComponentOut(Schema):
    lang: str
    weight: float = Field(description="Normalised share of the training tokens")
    unique_tokens: int = Field(description="Unique train tokens of the language")
    tokens: int = Field(description="Training tokens drawn from the language")
    epochs: float
    shards: list[ShardOut]


class MixtureOut(Schema):
    id: str
    dataset: str
    version: str
    tokenizer: str
    weights: dict[str, float]
    token_budget: int
    components: list[ComponentOut]
    plan: dict[str, Any] = Field(description="Data-constrained scaling-law plan (trainer.plan)")


def _out(mixture: Mixture) -> MixtureOut:
    return MixtureOut.model_validate(mixture.to_dict())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MixtureOut,
    responses=problems(400, 404, 422),
    operation_id="create_mixture",
)
def create(
    body: MixtureRequest, _: WriteAccess, state: StateDep, catalog: CatalogDep, response: Response
) -> MixtureOut:
    """Store a mixture; answers it resolved (shards, unique tokens, epochs, plan)."""
    state.versions.get(body.dataset, body.version)  # 404s for unknown dataset or version
    try:
        mixture = create_mixture(
            catalog, body.dataset, body.version, body.weights, body.token_budget, body.tokenizer
        )
    except ConfigError as exc:
        raise bad_request("invalid-mixture", str(exc)) from exc
    response.headers["Location"] = f"/v1/mixtures/{mixture.id}"
    return _out(mixture)


@router.get(
    "/{mixture_id}", response_model=MixtureOut, responses=problems(404), operation_id="get_mixture"
)
def read(mixture_id: str, _: ReadAccess, catalog: CatalogDep) -> MixtureOut:
    """A mixture resolved against its version's shards, with the epoch plan."""
    try:
        return _out(get_mixture(catalog, mixture_id))
    except MixtureNotFound as exc:
        raise not_found("mixture-not-found", str(exc)) from exc
