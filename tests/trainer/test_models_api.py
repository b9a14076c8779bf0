"""GET /v1/models lists trained runs with their lineage and recorded evaluations."""

import shutil

from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from corpus.core.settings import Settings
from tests.api.conftest import bearer, make_tokens
from trainer.evaluation.record import record_eval


def test_models_lists_trained_runs_with_evals_and_lineage(tiny_run, tmp_path):
    home = tmp_path / "home"
    run = home / "runs" / "train" / "tinyrun"
    shutil.copytree(tiny_run.run_dir, run)
    (home / "runs" / "train" / "empty").mkdir()  # no checkpoint: not a model
    by_language = {"Python": {"bits_per_byte": 2.4}}
    bpb = {"bits_per_byte": 2.5, "bits_per_byte_by_language": by_language}
    record_eval(run, "bits_per_byte", bpb)
    record_eval(run, "humaneval", {"problems": 164, "samples": 10, "pass@1": 0.0, "pass@10": 0.0})
    settings = ApiSettings(catalog=Settings(home=home))
    app = create_app(settings)
    tokens = make_tokens(settings)
    with TestClient(app, headers=bearer(tokens.read)) as client:
        listed = client.get("/v1/models")
        assert listed.status_code == 200, listed.text
        (model,) = listed.json()["models"]
        assert model["id"] == "tinyrun" and model["checkpoint"] == "step00000040"
        assert model["lineage"]["version"] == "v1" and model["lineage"]["tokenizer"]
        assert model["evals"]["bits_per_byte"]["bits_per_byte"] == 2.5
        assert model["evals"]["humaneval"]["pass@10"] == 0.0
        assert model["steps"] == 40 and model["val_loss"] > 0
        assert client.get("/v1/models/tinyrun").json() == model
        missing = client.get("/v1/models/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]
        assert client.get("/v1/models/..").status_code == 404
    with TestClient(app) as anonymous:
        assert anonymous.get("/v1/models").status_code == 401
