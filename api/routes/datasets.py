"""GET /v1/datasets: the datasets in the catalog and their versions."""

from fastapi import APIRouter

from api.auth import ReadAccess
from api.deps import StateDep
from api.responses import AUTH
from api.schemas import DatasetList, DatasetSummary

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=AUTH)


@router.get("", response_model=DatasetList, operation_id="list_datasets")
def list_datasets(_: ReadAccess, state: StateDep) -> DatasetList:
    """Every dataset with ingested files, with its number of versions and the newest one."""
    out = []
    for name in state.versions.datasets():
        versions = state.versions.versions(name)
        out.append(
            DatasetSummary(
                name=name,
                versions=len(versions),
                latest_version=versions[-1].name if versions else None,
            )
        )
    return DatasetList(datasets=out)
