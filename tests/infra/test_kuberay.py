"""infra/kuberay: KubeRay fields (tests/infra/kuberay_fields.py), Kubernetes schemas for pod
templates, Deployment and Service (kubernetes-validate, offline), resources and commands."""

import copy
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.infra.kuberay_fields import SCHEMAS
from tests.infra.manifests import INFRA, REPO, documents, pod_templates, quantity, tool

KUBERAY = INFRA / "kuberay"
MANIFESTS = sorted(p for p in KUBERAY.rglob("*.yaml") if p.name != "kustomization.yaml")
#: The Kubernetes version whose schemas the manifests must satisfy (kubernetes-validate ships it).
K8S_VERSION = "1.30"


def _all_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in documents(path)]


def _kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _all_documents() if doc["kind"] == kind]


def _containers(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{doc['kind']}/{doc['metadata']['name']} {where} {c['name']}", c)
        for where, template in pod_templates(doc)
        for c in template["spec"]["containers"]
    ]


def test_the_manifests_hold_what_the_service_needs() -> None:
    kinds = sorted(doc["kind"] for _, doc in _all_documents())
    assert kinds == ["ConfigMap", "Deployment", "RayCluster", "RayJob", "Service"]


@pytest.mark.parametrize("kind", ["RayCluster", "RayJob"])
def test_kuberay_resources_have_the_fields_kuberay_requires(kind: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMAS[kind])
    (doc,) = _kind(kind)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors
    broken = copy.deepcopy(doc)
    spec = broken["spec"] if kind == "RayCluster" else broken["spec"]["rayClusterSpec"]
    group = spec["workerGroupSpecs"][0]
    group["rayStartParam"] = group.pop("rayStartParams")  # a typo the API server would prune
    group["minReplicas"] = "0"
    messages = " ".join(e.message for e in validator.iter_errors(broken))
    assert "rayStartParams" in messages and "rayStartParam' was unexpected" in messages
    assert "'0' is not of type 'integer'" in messages


def test_pod_templates_deployment_and_service_match_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    checked = 0
    for _, doc in _all_documents():
        if doc["kind"] in ("RayCluster", "RayJob"):
            for where, template in pod_templates(doc):
                wrapped = {
                    "apiVersion": "v1",
                    "kind": "PodTemplate",
                    "metadata": {"name": f"{doc['metadata']['name']}-{where}".replace(" ", "-")},
                    "template": template,
                }
                kubernetes_validate.validate(wrapped, K8S_VERSION, strict=True)
                checked += 1
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            checked += 1
    assert checked == 8  # 2 + 3 pod templates, then the Deployment, Service and ConfigMap
    (cluster,) = _kind("RayCluster")
    typo = copy.deepcopy(cluster["spec"]["headGroupSpec"]["template"])
    typo["spec"]["containers"][0]["resource"] = typo["spec"]["containers"][0].pop("resources")
    wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "x"}}
    with pytest.raises(kubernetes_validate.ValidationError, match="resource"):
        kubernetes_validate.validate({**wrapped, "template": typo}, K8S_VERSION, strict=True)


def test_every_container_has_an_image_and_requests_within_limits() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    containers = [c for _, doc in _all_documents() if "spec" in doc for c in _containers(doc)]
    assert len(containers) == 6
    for name, container in containers:
        assert container["image"] == f"codecorpus:{version}", name  # kustomize sets the registry
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert {"cpu", "memory"} <= set(requests) and {"cpu", "memory"} <= set(limits), name
        for key, value in requests.items():
            assert quantity(value) <= quantity(limits[key]), f"{name}: {key} request > limit"
        sources = [e.get("configMapRef") or e.get("secretRef") for e in container["envFrom"]]
        assert {s["name"] for s in sources} == {"codecorpus-config", "codecorpus-secrets"}, name


def _groups(doc: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    spec = doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]
    return [(spec["headGroupSpec"], True)] + [(g, False) for g in spec["workerGroupSpecs"]]


@pytest.mark.parametrize("kind", ["RayCluster", "RayJob"])
def test_ray_start_params_fit_the_pods(kind: str) -> None:
    (doc,) = _kind(kind)
    for group, is_head in _groups(doc):
        params = group["rayStartParams"]
        pod = group["template"]["spec"]
        (container,) = pod["containers"]
        limits = container["resources"]["limits"]
        if is_head:
            assert params["num-cpus"] == "0", "the head runs drivers, not corpus work"
        else:
            assert quantity(params["num-cpus"]) == quantity(limits["cpu"])
            assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        store = quantity(params["object-store-memory"])
        shm = next(v for v in pod["volumes"] if v["name"] == "shm")
        assert shm["emptyDir"]["medium"] == "Memory"
        assert store <= quantity(shm["emptyDir"]["sizeLimit"]), "the object store lives in /dev/shm"
        assert store <= quantity(limits["memory"]) / 4, "tasks need most of the memory"
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["shm"] == "/dev/shm" and mounts["ray-tmp"] == "/tmp/ray"
        ray_tmp = next(v for v in pod["volumes"] if v["name"] == "ray-tmp")
        assert quantity(ray_tmp["emptyDir"]["sizeLimit"]) <= quantity(limits["ephemeral-storage"])


def test_rayjob_runs_a_curate_command_the_cli_accepts() -> None:
    import typer.main

    from corpus.cli.main import app

    (job,) = _kind("RayJob")
    words = shlex.split(job["spec"]["entrypoint"])
    assert words[:2] == ["codecorpus", "curate"]
    group = typer.main.get_command(app)
    command = group.get_command(group.make_context("codecorpus", list(words[1:])), "curate")
    context = command.make_context("curate", list(words[2:]))  # raises on an unknown option
    assert context.params["version"] == "v1" and context.params["partitions"] >= 1
    assert job["spec"]["shutdownAfterJobFinishes"] is True


def test_api_deployment_serves_and_reaches_the_ray_cluster(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api import create_app
    from api.settings import ApiSettings
    from corpus.core.settings import Settings

    (deployment,) = _kind("Deployment")
    (service,) = _kind("Service")
    (cluster,) = _kind("RayCluster")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "serve"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["CODECORPUS_API_RAY_ADDRESS"] == f"{cluster['metadata']['name']}-head-svc:6379"
    client = TestClient(create_app(ApiSettings(catalog=Settings(home=tmp_path))))
    for probe in ("readinessProbe", "livenessProbe"):  # the probes answer without an API key
        assert client.get(container[probe]["httpGet"]["path"]).status_code == 200, probe
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("folder", ["", "curate"])
def test_kustomize_renders_with_the_registry_image(folder: str) -> None:
    kubectl = tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERAY / folder)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = [d for d in __import__("yaml").safe_load_all(result.stdout) if d]
    images = {c["image"] for d in rendered if "spec" in d for _, c in _containers(d)}
    assert len(images) == 1 and images.pop().startswith("registry.example.com/codecorpus:")
    assert all(d["metadata"]["namespace"] == "codecorpus" for d in rendered)
