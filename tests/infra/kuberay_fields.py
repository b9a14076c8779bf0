"""The KubeRay v1 fields our manifests use, as JSON Schema, for lack of the CRDs offline.

KubeRay's CRDs (ray-operator/config/crd/bases/ray.io_rayclusters.yaml and
ray.io_rayjobs.yaml, generated from ray-operator/apis/ray/v1/raycluster_types.go and
rayjob_types.go) are not shipped by any package installable here, so this is the part of
them that matters to us, written from those Go types (KubeRay 1.1 - 1.4):

- RayClusterSpec: `headGroupSpec` is required; `workerGroupSpecs`, `rayVersion`,
  `enableInTreeAutoscaling`, `autoscalerOptions` ... are optional.
- HeadGroupSpec: `template` (a core/v1 PodTemplateSpec) is required; `rayStartParams` is a
  map of strings (required before KubeRay 1.2, so we always give it).
- WorkerGroupSpec: `groupName`, `template`, `rayStartParams` (as above), `minReplicas`
  and `maxReplicas` (int32, defaulted by the CRD) ; `replicas` optional.
- RayJobSpec: everything optional; we require `entrypoint` and `rayClusterSpec` because
  our RayJob brings its own cluster and runs a command.

Unknown keys are refused where the Go types have a closed set, which catches typos such
as `rayStartParam` that the API server would silently prune. Pod templates are checked
separately against the Kubernetes schemas of kubernetes-validate.
"""

from typing import Any

STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
INT32: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
TEMPLATE: dict[str, Any] = {"type": "object", "required": ["spec"]}

HEAD_GROUP: dict[str, Any] = {
    "type": "object",
    "required": ["template", "rayStartParams"],
    "additionalProperties": False,
    "properties": {
        "serviceType": {"type": "string"},
        "headService": {"type": "object"},
        "enableIngress": {"type": "boolean"},
        "rayStartParams": STRING_MAP,
        "template": TEMPLATE,
    },
}

WORKER_GROUP: dict[str, Any] = {
    "type": "object",
    "required": ["groupName", "template", "rayStartParams", "minReplicas", "maxReplicas"],
    "additionalProperties": False,
    "properties": {
        "groupName": {"type": "string", "minLength": 1},
        "replicas": INT32,
        "minReplicas": INT32,
        "maxReplicas": INT32,
        "numOfHosts": INT32,
        "idleTimeoutSeconds": INT32,
        "suspend": {"type": "boolean"},
        "rayStartParams": STRING_MAP,
        "template": TEMPLATE,
        "scaleStrategy": {"type": "object"},
    },
}

CLUSTER_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["headGroupSpec"],
    "additionalProperties": False,
    "properties": {
        "headGroupSpec": HEAD_GROUP,
        "workerGroupSpecs": {"type": "array", "items": WORKER_GROUP},
        "rayVersion": {"type": "string"},
        "enableInTreeAutoscaling": {"type": "boolean"},
        "autoscalerOptions": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "resources": {"type": "object"},
                "image": {"type": "string"},
                "imagePullPolicy": {"type": "string"},
                "env": {"type": "array"},
                "envFrom": {"type": "array"},
                "volumeMounts": {"type": "array"},
                "securityContext": {"type": "object"},
                "idleTimeoutSeconds": INT32,
                "upscalingMode": {"enum": ["Default", "Aggressive", "Conservative"]},
            },
        },
        "headServiceAnnotations": STRING_MAP,
        "suspend": {"type": "boolean"},
        "managedBy": {"type": "string"},
        "gcsFaultToleranceOptions": {"type": "object"},
    },
}

METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}},
}

RAY_CLUSTER: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayCluster"},
        "metadata": METADATA,
        "spec": CLUSTER_SPEC,
    },
}

RAY_JOB: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayJob"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["entrypoint", "rayClusterSpec"],
            "additionalProperties": False,
            "properties": {
                "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
                "backoffLimit": INT32,
                "rayClusterSpec": CLUSTER_SPEC,
                "submitterPodTemplate": TEMPLATE,
                "metadata": STRING_MAP,
                "clusterSelector": STRING_MAP,
                "submitterConfig": {"type": "object"},
                "managedBy": {"type": "string"},
                "deletionStrategy": {"type": "object"},
                "entrypoint": {"type": "string", "minLength": 1},
                "runtimeEnvYAML": {"type": "string"},
                "jobId": {"type": "string"},
                "submissionMode": {"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode"]},
                "entrypointResources": {"type": "string"},
                "entrypointNumCpus": {"type": "number"},
                "entrypointNumGpus": {"type": "number"},
                "ttlSecondsAfterFinished": INT32,
                "shutdownAfterJobFinishes": {"type": "boolean"},
                "suspend": {"type": "boolean"},
            },
        },
    },
}

SCHEMAS = {"RayCluster": RAY_CLUSTER, "RayJob": RAY_JOB}
