"""NetworkPolicy: selects every serving pod of the release, denies both directions, and allows
exactly the configured peers: clients to gRPC/REST, Prometheus to the REST (metrics) port as
ingress to the pod, DNS and model storage as egress."""

from __future__ import annotations

import pytest

from tfserving_harness import yamlio
from tfserving_harness.manifests import of_kind, one, pod_template, selector_matches
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_refused, at

SCENARIO = chart_dir() / "ci" / "network-policy-values.yaml"


@pytest.fixture(scope="module")
def docs(scenario):
    return scenario(SCENARIO)


@pytest.fixture(scope="module")
def policy(docs):
    return one(docs, "NetworkPolicy")


def test_off_by_default(default_docs):
    assert of_kind(default_docs, "NetworkPolicy") == []


def test_selects_every_serving_pod_of_every_track_and_denies_both_directions(render):
    docs = render({"tracks": {"stable": {}, "canary": {}}, "networkPolicy": {"enabled": True}})
    policy = one(docs, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for deployment in of_kind(docs, "Deployment"):
        assert selector_matches(selector, pod_template(deployment)["metadata"]["labels"]), deployment["metadata"]["name"]
    assert selector == {"app.kubernetes.io/name": "tf-serving", "app.kubernetes.io/instance": "tfs"}
    other = one(render({"networkPolicy": {"enabled": True}}, name="other"), "NetworkPolicy")
    assert not selector_matches(other["spec"]["podSelector"]["matchLabels"], pod_template(of_kind(docs, "Deployment")[0])["metadata"]["labels"])


def test_clients_reach_grpc_and_rest_exactly_the_configured_peers(policy):
    values = yamlio.load(SCENARIO.read_text())["networkPolicy"]
    client_rules = [r for r in policy["spec"]["ingress"] if {p["port"] for p in r["ports"]} == {"grpc", "http"}]
    assert len(client_rules) == 1
    assert client_rules[0]["from"] == values["clients"]


def test_monitoring_namespace_scrapes_the_rest_port_as_ingress(policy, docs):
    [metrics_rule] = [r for r in policy["spec"]["ingress"] if [p["port"] for p in r["ports"]] == ["http"] and "namespaceSelector" in r["from"][0]]
    assert metrics_rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    container = pod_template(one(docs, "Deployment"))["spec"]["containers"][0]
    assert "http" in {p["name"] for p in container["ports"]}, "the named port the policy allows is the REST port"
    assert len(policy["spec"]["ingress"]) == 3, "nothing but clients, Prometheus and the release's helm test pod"


def test_helm_test_pod_reaches_the_rest_port_and_is_not_under_the_policy(policy, docs):
    """The test pod carries no selector labels (the deny-all egress would cut it off), and the
    policy lets exactly that pod reach the REST port."""
    test_pod = one(docs, "Pod")
    labels = test_pod["metadata"]["labels"]
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert not all(labels.get(k) == v for k, v in selected.items()), "the policy must not select the test pod"
    rules = [r for r in policy["spec"]["ingress"] if any("podSelector" in peer and "namespaceSelector" not in peer for peer in r["from"])]
    (rule,) = [r for r in rules if all(labels.get(k) == v for k, v in r["from"][0]["podSelector"]["matchLabels"].items())]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_egress_is_dns_and_model_storage_only(policy):
    dns, public, metadata, gke_metadata = policy["spec"]["egress"]
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]
    assert public["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert metadata == {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80, "protocol": "TCP"}]}
    assert gke_metadata == {"to": [{"ipBlock": {"cidr": "169.254.169.252/32"}}], "ports": [{"port": 988, "protocol": "TCP"}]}


def test_the_storage_rule_reaches_the_public_internet_only(policy):
    """Every private (RFC 1918), shared (RFC 6598) and link-local range is cut out of 0.0.0.0/0, so
    port 443 reaches no cluster, VPC or metadata address; the metadata server has its own rules."""
    import ipaddress

    block = policy["spec"]["egress"][1]["to"][0]["ipBlock"]
    excluded = [ipaddress.ip_network(c) for c in block["except"]]
    for address in ("10.1.2.3", "172.20.0.1", "192.168.1.1", "100.64.0.10", "169.254.169.254", "169.254.169.252"):
        assert any(ipaddress.ip_address(address) in net for net in excluded), f"{address} is reachable on 443"
    assert block["cidr"] == "0.0.0.0/0" and not any(ipaddress.ip_address("142.250.0.1") in net for net in excluded)


def test_the_hardened_scenario_lets_two_peers_in_and_nothing_out(scenario):
    policy = one(scenario("hardened"), "NetworkPolicy")
    assert policy["spec"]["egress"] == [], "models on a node-mounted volume: no DNS, no storage egress"
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert all(peer.get("podSelector", {}).get("matchLabels") for peer in peers), f"every peer names its pods: {peers}"


def test_nothing_configured_means_deny_all_and_no_metrics_means_no_scrape_rule(render):
    policy = one(render({"metrics": {"enabled": False}, "helmTest": {"enabled": False}, "networkPolicy": {"enabled": True, "dns": {"enabled": False}}}), "NetworkPolicy")
    assert policy["spec"]["ingress"] == [] and policy["spec"]["egress"] == []


def test_schema_rejects_a_peer_typo_and_a_storage_entry_without_ports():
    for values, path in (
        ({"networkPolicy": {"clients": [{"namespaceSelecter": {}}]}}, "networkPolicy.clients.0.namespaceSelecter"),
        ({"networkPolicy": {"modelStorage": [{"cidr": "0.0.0.0/0"}]}}, "networkPolicy.modelStorage.0"),
    ):
        assert_refused(values, at(path))


# ---- What the policy must let through: the chart's own traffic and the model source ----------
ON = {"enabled": True}
CLIENT = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
PUBLIC_443 = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"], "ports": [{"port": 443}]}
GCS = {"modelStorage": {"source": "gcs"}, "models": [{"name": "m", "basePath": "gs://b/m"}]}
WORKLOAD_IDENTITY = {**GCS, "serviceAccount": {"annotations": {"iam.gke.io/gcp-service-account": "tfs@p.iam.gserviceaccount.com"}}}
S3_MINIO = {
    "modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True, "endpoint": "10.1.2.3:9000", "useHttps": False}},
    "models": [{"name": "m", "basePath": "s3://b/m"}],
}
INIT = {
    "modelStorage": {"source": "initContainer", "initContainer": {"image": {"repository": "amazon/aws-cli"}, "command": ["sh", "-c", "true"]}},
    "models": [{"name": "m", "basePath": "/models/m"}],
}
NO_CLIENTS = "tf-serving: networkPolicy.clients is empty, so with networkPolicy.enabled no peer may reach the gRPC and REST ports, yet traffic comes through "
NO_STORAGE = "tf-serving: networkPolicy.modelStorage has no egress rule on TCP port "
NO_METADATA = "tf-serving: networkPolicy.modelStorage does not allow the GKE metadata server 169.254.169.254 on port 80"


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"ingress": ON, "networkPolicy": {**ON, "clients": CLIENT}}, id="ingress-with-a-client-peer"),
        pytest.param({"ingress": ON, "networkPolicy": {**ON, "extraIngress": [{"from": CLIENT, "ports": [{"port": "http"}]}]}}, id="ingress-admitted-by-extra-ingress"),
        pytest.param({"service": {"type": "NodePort"}, "networkPolicy": {**ON, "extraIngress": [{"from": CLIENT}]}}, id="extra-ingress-on-every-port"),
        pytest.param({"networkPolicy": ON}, id="cluster-ip-alone-sends-nothing"),
        pytest.param({**GCS, "networkPolicy": {**ON, "modelStorage": [{"cidr": "0.0.0.0/0", "ports": [{"port": 443}]}]}}, id="gcs-public-443"),
        pytest.param({**GCS, "networkPolicy": {**ON, "extraEgress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}, id="gcs-extra-egress-every-port"),
        pytest.param({**GCS, "networkPolicy": {**ON, "modelStorage": [{"cidr": "0.0.0.0/0", "ports": [{"port": 400}]}], "extraEgress": [{"ports": [{"port": 400, "endPort": 500}]}]}}, id="gcs-port-range"),
        pytest.param({**GCS, "networkPolicy": {**ON, "modelStorage": [PUBLIC_443]}}, id="gcs-anonymous-needs-no-metadata"),
        pytest.param({**WORKLOAD_IDENTITY, "networkPolicy": {**ON, "modelStorage": [PUBLIC_443, {"cidr": "169.254.169.254/32", "ports": [{"port": 80}]}]}}, id="workload-identity-metadata-32"),
        pytest.param({**WORKLOAD_IDENTITY, "networkPolicy": {**ON, "modelStorage": [{"cidr": "0.0.0.0/0", "ports": [{"port": 443}, {"port": 80}]}]}}, id="workload-identity-nothing-excluded"),
        pytest.param({**WORKLOAD_IDENTITY, "networkPolicy": {**ON, "modelStorage": [PUBLIC_443], "extraEgress": [{"to": [{"ipBlock": {"cidr": "169.254.0.0/16", "except": ["169.254.170.0/24"]}}], "ports": [{"port": 80}]}]}}, id="workload-identity-by-extra-egress"),
        pytest.param({**GCS, "modelStorage": {"source": "gcs", "gcs": {"existingSecret": "key"}}, "serviceAccount": WORKLOAD_IDENTITY["serviceAccount"], "networkPolicy": {**ON, "modelStorage": [PUBLIC_443]}}, id="gcs-key-secret-needs-no-metadata"),
        pytest.param({**S3_MINIO, "networkPolicy": {**ON, "dns": {"enabled": False}, "modelStorage": [{"cidr": "10.1.2.3/32", "ports": [{"port": 9000}]}]}}, id="s3-endpoint-ip-port-no-dns"),
        pytest.param({**INIT, "networkPolicy": {**ON, "extraEgress": [{"to": [{"podSelector": {"matchLabels": {"app": "minio"}}}]}]}}, id="init-download-by-extra-egress"),
    ],
)
def test_a_policy_that_lets_the_traffic_through_renders(render, values):
    assert one(render(values), "NetworkPolicy")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"ingress": ON, "networkPolicy": {**ON, "extraIngress": [{"from": CLIENT, "ports": [{"port": 9090}]}]}}, NO_CLIENTS + "ingress.enabled", id="extra-ingress-on-another-port"),
        pytest.param({"service": {"type": "NodePort"}, "networkPolicy": ON}, NO_CLIENTS + "service.type NodePort", id="nodeport"),
        pytest.param({**GCS, "networkPolicy": {**ON, "modelStorage": [{"cidr": "0.0.0.0/0", "ports": [{"port": 443, "protocol": "UDP"}]}]}}, NO_STORAGE + "443, but modelStorage.source is gcs", id="gcs-udp-only"),
        pytest.param({**S3_MINIO, "networkPolicy": {**ON, "modelStorage": [PUBLIC_443]}}, NO_STORAGE + "9000, but modelStorage.source is s3: the server reads its models from 10.1.2.3", id="s3-endpoint-port"),
        pytest.param({**GCS, "networkPolicy": {**ON, "dns": {"enabled": False}, "modelStorage": [PUBLIC_443], "extraEgress": [{"ports": [{"port": 443}]}]}}, "tf-serving: networkPolicy.dns.enabled is false and no networkPolicy.extraEgress rule admits port 53", id="gcs-no-dns"),
        pytest.param({**WORKLOAD_IDENTITY, "networkPolicy": {**ON, "modelStorage": [PUBLIC_443, {"cidr": "169.254.169.254/32", "ports": [{"port": 443}]}]}}, NO_METADATA, id="workload-identity-metadata-wrong-port"),
        pytest.param({**WORKLOAD_IDENTITY, "networkPolicy": {**ON, "modelStorage": [{"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"], "ports": [{"port": 443}, {"port": 80}]}]}}, NO_METADATA, id="workload-identity-metadata-excluded"),
        pytest.param({**WORKLOAD_IDENTITY, "networkPolicy": {**ON, "modelStorage": [PUBLIC_443], "extraEgress": [{"to": [{"ipBlock": {"cidr": "169.254.170.0/24"}}], "ports": [{"port": 80}]}]}}, NO_METADATA, id="workload-identity-extra-egress-elsewhere"),
        pytest.param({**INIT, "networkPolicy": {**ON, "clients": CLIENT}}, "tf-serving: networkPolicy.modelStorage and networkPolicy.extraEgress are empty, but modelStorage.source is initContainer", id="init-download"),
    ],
)
def test_a_policy_that_blocks_the_charts_own_traffic_is_refused(values, message):
    assert_refused(values, message)
