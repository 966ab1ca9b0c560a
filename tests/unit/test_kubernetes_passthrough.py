"""Values the chart passes through into Kubernetes objects are checked by values.schema.json against
Kubernetes' own definitions (closed) and formats, so a realistic mistake fails `helm install` with
the value path instead of at the API server (or, worse, being pruned there). Both renderers."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.testing import assert_refused, at, renderers

PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}

MISTAKES = [
    # security contexts
    pytest.param({"securityContext": {"readOnlyRootFileSystem": True}}, "securityContext.readOnlyRootFileSystem", "additionalProperties", id="securityContext-typo"),
    pytest.param({"securityContext": {"capabilities": {"drop": "ALL"}}}, "securityContext.capabilities.drop", "type", id="drop-ALL-as-string"),
    pytest.param({"podSecurityContext": {"runAsUser": "10001"}}, "podSecurityContext.runAsUser", "type", id="podSecurityContext-uid-string"),
    pytest.param({"podSecurityContext": {"seccompProfile": {"type": "runtime/default"}}}, "podSecurityContext.seccompProfile.type", "enum", id="seccomp-type"),
    # scheduling
    pytest.param({"tolerations": [{"key": "gpu", "operator": "Exist"}]}, "tolerations.0.operator", "enum", id="toleration-operator-Exist"),
    pytest.param({"gpu": {"tolerations": [{"key": "gpu", "effect": "NoSchedul"}]}}, "gpu.tolerations.0.effect", "enum", id="gpu-toleration-effect"),
    pytest.param(
        {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "in", "values": ["a"]}]}]}}}},
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.operator", "enum", id="affinity-operator",
    ),
    pytest.param({"affinity": {"podAntiAfinity": {}}}, "affinity.podAntiAfinity", "additionalProperties", id="affinity-typo"),
    pytest.param({"nodeSelector": {"pool": "gpu@l4"}}, "nodeSelector.pool", "pattern", id="nodeSelector-value"),
    pytest.param({"tracks": {"canary": {"tolerations": [{"operator": "Exist"}]}}}, "tracks.canary.tolerations.0.operator", "enum", id="track-toleration"),
    # env
    pytest.param({"server": {"extraEnv": [{"name": "TF_CPP_MIN_LOG_LEVEL", "value": 2}]}}, "server.extraEnv.0.value", "type", id="env-value-number"),
    pytest.param(
        {"modelStorage": {"initContainer": {"env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "keys": "k"}}}]}}},
        "modelStorage.initContainer.env.0.valueFrom.secretKeyRef.keys", "additionalProperties", id="initContainer-env-secretKeyRef",
    ),
    # resources and other quantities
    pytest.param({"resources": {"limits": {"memory": "2GB"}}}, "resources.limits.memory", "pattern", id="memory-2GB"),
    pytest.param({"resources": {"request": {"cpu": "1"}}}, "resources.request", "additionalProperties", id="resources-request-typo"),
    pytest.param({"helmTest": {"resources": {"requests": {"cpu": "10 m"}}}}, "helmTest.resources.requests.cpu", "pattern", id="helmTest-cpu"),
    pytest.param({"modelStorage": {"pvc": {"size": "10GB"}}}, "modelStorage.pvc.size", "pattern", id="pvc-size"),
    pytest.param({"autoscaling": {"vpa": {"maxAllowed": {"memory": "8 Gi"}}}}, "autoscaling.vpa.maxAllowed.memory", "pattern", id="vpa-maxAllowed"),
    # HPA
    pytest.param({"autoscaling": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilisation", "averageUtilization": 70}}}]}},
                 "autoscaling.metrics.0.resource.target.type", "enum", id="hpa-metric-target-type"),
    pytest.param({"autoscaling": {"metrics": [{"type": "Resource", "resources": {"name": "cpu"}}]}}, "autoscaling.metrics.0.resources", "additionalProperties", id="hpa-metric-typo"),
    pytest.param({"autoscaling": {"enabled": True, "metrics": [{"type": "Pods", "pods": {"metric": {"name": "x"}}}]}},
                 "autoscaling.metrics.0.pods.target", "required", id="hpa-pods-metric-without-target"),
    pytest.param({"autoscaling": {"behavior": {"scaleUp": {"policies": [{"type": "Percent", "value": "100", "periodSeconds": 60}]}}}},
                 "autoscaling.behavior.scaleUp.policies.0.value", "type", id="hpa-behavior-value-string"),
    # NetworkPolicy
    pytest.param({"networkPolicy": {"enabled": True, "clients": [{"namespaceSelector": {"matchLabel": {"team": "web"}}}]}},
                 "networkPolicy.clients.0.namespaceSelector.matchLabel", "additionalProperties", id="peer-matchLabel"),
    pytest.param({"networkPolicy": {"monitoring": [{"podSelector": {"matchExpressions": [{"key": "app", "operator": "Equals"}]}}]}},
                 "networkPolicy.monitoring.0.podSelector.matchExpressions.0.operator", "enum", id="peer-selector-operator"),
    pytest.param({"networkPolicy": {"dns": {"podSelector": {"matchLabels": {"k8s-app": "kube dns"}}}}}, "networkPolicy.dns.podSelector.matchLabels.k8s-app", "pattern", id="dns-selector-value"),
    pytest.param({"networkPolicy": {"modelStorage": [{"cidr": "10.0.0.0/33", "ports": [{"port": 443}]}]}}, "networkPolicy.modelStorage.0.cidr", "pattern", id="cidr-33"),
    pytest.param({"networkPolicy": {"extraEgress": [{"to": [{"ipBlock": {"cidr": "fd00::/129"}}]}]}}, "networkPolicy.extraEgress.0.to.0.ipBlock.cidr", "pattern", id="ipv6-cidr-129"),
    pytest.param({"networkPolicy": {"extraIngress": [{"from": [PEER], "ports": [{"port": 8500, "protocol": "tcp"}]}]}}, "networkPolicy.extraIngress.0.ports.0.protocol", "enum", id="port-protocol"),
    pytest.param({"networkPolicy": {"extraIngress": [{"form": [PEER]}]}}, "networkPolicy.extraIngress.0.form", "additionalProperties", id="ingress-rule-typo"),
    # labels, annotations, names
    pytest.param({"podLabels": {"owner": "ml@example.com"}}, "podLabels.owner", "pattern", id="label-value-at"),
    pytest.param({"service": {"labels": {"team": "x" * 64}}}, "service.labels.team", None, id="label-value-too-long"),
    pytest.param({"ingress": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": 8}}}, "ingress.annotations.nginx.ingress.kubernetes.io/proxy-body-size", "type", id="annotation-number"),
    pytest.param({"service": {"annotations": {"bad key": "x"}}}, "service.annotations.bad key", "additionalProperties", id="annotation-key"),
    pytest.param({"imagePullSecrets": [{"nmae": "regcred"}]}, "imagePullSecrets.0.nmae", "additionalProperties", id="imagePullSecrets-typo"),
    pytest.param({"serviceAccount": {"name": "Model_Server"}}, "serviceAccount.name", "pattern", id="serviceAccount-name"),
    pytest.param({"modelStorage": {"existingClaim": {"claimName": "models..v1"}}}, "modelStorage.existingClaim.claimName", "pattern", id="claim-name"),
    # percentages and durations
    pytest.param({"podDisruptionBudget": {"enabled": True, "minAvailable": "150%"}}, "podDisruptionBudget.minAvailable", None, id="pdb-150-percent"),
    pytest.param({"monitoring": {"serviceMonitor": {"interval": "30s30s"}}}, "monitoring.serviceMonitor.interval", "pattern", id="duration-repeated-unit"),
]


@pytest.mark.parametrize("renderer", renderers())
@pytest.mark.parametrize(("values", "path", "rule"), MISTAKES)
def test_realistic_mistake_is_refused_at_its_value_path(values, path, rule, renderer):
    assert_refused(values, at(path, rule), renderer=renderer)


#: Valid spellings of the same formats, rendered together: the formats must not refuse them.
VALID = {
    "resources": {"requests": {"cpu": "500m", "memory": "2G", "ephemeral-storage": 1e9}, "limits": {"cpu": 2, "memory": "2Gi"}},
    "modelStorage": {"initContainer": {"sizeLimit": "512Mi"}},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, {"key": "a", "operator": "Equal", "value": "b"}],
    "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
    "podLabels": {"team": "ml-platform", "cost.example.com/centre": "A_1.b"},
    "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
    "server": {"extraEnv": [{"name": "TF_CPP_MIN_LOG_LEVEL", "value": "2"},
                            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
    "podDisruptionBudget": {"enabled": True, "maxUnavailable": "100%"},
    "networkPolicy": {
        "enabled": True,
        "clients": [PEER, {"ipBlock": {"cidr": "2001:db8::/64", "except": ["2001:db8::1/128"]}}],
        "modelStorage": [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32"], "ports": [{"port": 443}]}],
        "extraEgress": [{"to": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}],
    },
    "monitoring": {"serviceMonitor": {"interval": "1m30s", "scrapeTimeout": "10s"}},
    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "gpu-memory", "operator": "Gt", "values": ["16"]}]}}]}},
}


@pytest.mark.parametrize("renderer", renderers())
def test_valid_spellings_of_every_format_are_accepted(renderer, render):
    docs = render(VALID, renderer=renderer, kube_version=helm.OLDEST_KUBE_VERSION)
    (deployment,) = (doc for doc in docs if doc["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["affinity"] == VALID["affinity"]


#: Values the API server accepts right at the edge of each rule values.schema.json adds from its
#: validation code (values_schema.VALIDATION_RULES and VALIDATION_CONDITIONS) and of the chart's
#: own cross-field checks on them: none of them may be refused.
EDGES = {
    "tolerations": [
        {"operator": "Exists"},  # an empty key with Exists matches every taint
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},  # no operator means Equal
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "gpu-memory", "operator": "Gt", "values": ["16"]}, {"key": "spot", "operator": "DoesNotExist"}]},
                {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["ip-10-0-0-1.ec2.internal"]}]},
            ]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a", "b"]}]}}],
        },
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {
            "topologyKey": "topology.kubernetes.io/zone", "namespaces": ["cache"],
            "labelSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]}}}]},
    },
    "topologySpreadConstraints": [{"maxSkew": 2, "minDomains": 2, "topologyKey": "example.com/rack", "whenUnsatisfiable": "DoNotSchedule",
                                   "nodeAffinityPolicy": "Honor", "nodeTaintsPolicy": "Ignore"}],
    "securityContext": {"runAsUser": 2147483647, "procMount": "Default"},
    "podSecurityContext": {"fsGroup": 0, "supplementalGroups": [0, 65534], "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/tf-serving.json"},
                           "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}, {"name": "kernel/shm_rmid_forced", "value": "1"}]},
    "resources": {"requests": {"cpu": "0", "memory": "1Gi", "nvidia.com/gpu": 1, "hugepages-2Mi": "128Mi"},
                  "limits": {"memory": "2Gi", "nvidia.com/gpu": "1", "hugepages-2Mi": "128Mi"}},
    "server": {"extraEnv": [
        {"name": "_private.var-1", "value": ""},
        {"name": "APP", "value": "", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['app.kubernetes.io/name']"}}},
        {"name": "HOST_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}},
        {"name": "MEMORY_LIMIT_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "BUCKET", "valueFrom": {"configMapKeyRef": {"name": "storage.config", "key": ".bucket_name"}}},
    ]},
    "autoscaling": {
        "enabled": True,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
            {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "tf-serving", "target": {"type": "AverageValue", "averageValue": "3Gi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "tfs_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "0.5"}}},
            {"type": "Object", "object": {"metric": {"name": "requests-per-second"}, "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
                                          "target": {"type": "Value", "value": "2k"}}},
            {"type": "External", "external": {"metric": {"name": "queue_depth"}, "target": {"type": "AverageValue", "averageValue": "30"}}},
        ],
        "behavior": {"scaleUp": {"selectPolicy": "Disabled"},
                     "scaleDown": {"stabilizationWindowSeconds": 3600, "policies": [{"type": "Percent", "value": 1, "periodSeconds": 1800}]}},
    },
    "networkPolicy": {
        "enabled": True,
        "clients": [{"namespaceSelector": {"matchLabels": {"team": "web"}}, "podSelector": {"matchLabels": {"app": "frontend"}}},
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.255.255.255/32"]}},
                    {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:0:1::/64", "2001:db8::1/128"]}}],
        "extraEgress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                         "ports": [{"port": 30000, "endPort": 30000}, {"port": "https"}, {"port": "grpc-web-1"}]}],
    },
    "gatewayApi": {
        "enabled": True, "force": True,
        "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}, {"name": "public", "namespace": "gateways", "sectionName": "http"},
                       {"group": "", "kind": "Service", "name": "mesh"}],
        "http": {"path": "/v1/models/half_plus_two:predict/..x/%20/~user/", "hostnames": ["models.example.com"]},
        "grpc": {"hostnames": ["grpc.models.example.com"]},
    },
    "ingress": {"enabled": True, "path": "/v1/.well-known/"},
}


@pytest.mark.parametrize("renderer", renderers())
def test_values_at_the_edge_of_each_api_rule_are_accepted(renderer, render):
    docs = render(EDGES, renderer=renderer, kube_version=helm.OLDEST_KUBE_VERSION)
    (hpa,) = (doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"] == EDGES["autoscaling"]["metrics"]
