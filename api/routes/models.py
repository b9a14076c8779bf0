"""/v1/models: trained runs with their evaluations and version lineage."""

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from api.auth import ReadAccess
from api.deps import StateDep
from api.problems import not_found
from api.responses import AUTH, problems
from api.schemas import Schema
from trainer.registry import ModelRecordNotFound, get_model, list_models

router = APIRouter(prefix="/models", tags=["models"], responses=AUTH)


class ModelOut(Schema):
    id: str
    path: str
    checkpoint: str | None = Field(description="Newest checkpoint tag")
    steps: int | None = None
    tokens: int | None = None
    val_loss: float | None = None
    val_loss_by_language: dict[str, float] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(
        description="dataset, version, mixture, tokenizer (and weights) that made the model"
    )
    evals: dict[str, Any] = Field(description="bits_per_byte, humaneval, ... as recorded")


class ModelList(Schema):
    models: list[ModelOut]


def _root(state):
    return state.settings.catalog.home / "runs" / "train"


@router.get("", response_model=ModelList, operation_id="list_models")
def list_all(_: ReadAccess, state: StateDep) -> ModelList:
    """Trained runs under CODECORPUS_HOME/runs/train, by id."""
    return ModelList(models=[ModelOut.model_validate(m) for m in list_models(_root(state))])


@router.get("/{model_id}", response_model=ModelOut, responses=problems(404),
            operation_id="get_model")  # fmt: skip
def read(model_id: str, _: ReadAccess, state: StateDep) -> ModelOut:
    """One trained run: lineage, training result, evaluations."""
    try:
        return ModelOut.model_validate(get_model(_root(state), model_id))
    except ModelRecordNotFound as exc:
        raise not_found("model-not-found", str(exc)) from exc
