"""infra/ray/cluster.yaml against the installed Ray's own cluster-launcher schema and checks."""

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.manifests import INFRA, REPO

CLUSTER = INFRA / "ray" / "cluster.yaml"
#: GiB of memory of the EC2 instance types the file may use (AWS's published sizes).
INSTANCE_GIB = {"m7i.2xlarge": 32, "m7i.4xlarge": 64, "m7i.8xlarge": 128, "r7i.4xlarge": 128}


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER.read_text())


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    import ray

    return json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())


def test_matches_rays_cluster_schema(cluster: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(cluster, schema)
    broken = copy.deepcopy(cluster)
    broken["available_node_types"]["cpu16"]["resources"]["CPU"] = "16"
    with pytest.raises(jsonschema.ValidationError, match="'16' is not of type 'integer'"):
        jsonschema.validate(broken, schema)


def test_ray_fills_and_accepts_it(cluster: dict[str, Any]) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(cluster))  # merges the AWS provider's defaults
    validate_config(prepared)
    assert prepared["provider"]["type"] == "aws"
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_nodes_install_and_start_codecorpus(cluster: dict[str, Any]) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert cluster["docker"]["image"].endswith(f"/codecorpus:{version}")
    (mount,) = cluster["file_mounts"].items()
    assert mount == ("~/codecorpus", ".") and (REPO / "pyproject.toml").exists()
    assert any("pip install" in c and "~/codecorpus" in c for c in cluster["setup_commands"])
    head = " ".join(cluster["head_start_ray_commands"])
    worker = " ".join(cluster["worker_start_ray_commands"])
    assert "ray start --head --port=6379" in head
    assert "ray start --address=$RAY_HEAD_IP:6379" in worker


def test_node_resources_fit_their_instances(cluster: dict[str, Any]) -> None:
    shm = next(o for o in cluster["docker"]["run_options"] if o.startswith("--shm-size="))
    shm_bytes = int(shm.split("=")[1].split()[0].rstrip("g")) << 30
    store = int(cluster["worker_start_ray_commands"][-1].split("--object-store-memory=")[1])
    assert store < shm_bytes, "the object store lives in /dev/shm"
    for name, node in cluster["available_node_types"].items():
        instance = INSTANCE_GIB[node["node_config"]["InstanceType"]] << 30
        memory = node["resources"].get("memory", 0)
        if name == cluster["head_node_type"]:
            assert node["resources"]["CPU"] == 0, "corpus work stays off the head"
            continue
        assert memory + store < instance, f"{name}: task memory + object store > the instance"
        assert node["max_workers"] <= cluster["max_workers"]
