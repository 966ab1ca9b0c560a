"""RBAC and disruption budgets, decided by the API server itself: impersonating the deployer
subjects and the serving ServiceAccount (SelfSubjectAccessReview, as `kubectl auth can-i --as`),
and evictions through the Eviction API against the chart's PodDisruptionBudget."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tfserving_harness.cluster import HelmRelease, wait_until
from tfserving_harness.paths import ci_values_files

RELEASE = "tfs"
FULLNAME = f"{RELEASE}-tf-serving"


def can_i(cluster, user, groups, verb, resource, namespace, *, group="", name=None, subresource=None):
    """`kubectl auth can-i VERB RESOURCE --as USER --as-group ...`, through impersonation headers."""
    api = config.new_client_from_config(config_file=cluster.kubeconfig, context=cluster.context)
    api.set_default_header("Impersonate-User", user)
    # Impersonating a ServiceAccount user adds its system:serviceaccounts groups; the tests need at
    # most one more group, and the client sends one value per header name.
    assert len(groups) <= 1
    if groups:
        api.set_default_header("Impersonate-Group", groups[0])
    review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group, namespace=namespace,
                                                        name=name, subresource=subresource)))
    return client.AuthorizationV1Api(api).create_self_subject_access_review(review).status.allowed


# (verb, resource, api group, object name or None, subresource) -> allowed, per the chart README's RBAC section.
DEPLOYER_RIGHTS = [
    (("get", "pods", "", None, None), True),
    (("list", "services", "", None, None), True),
    (("watch", "deployments", "apps", None, None), True),
    (("get", "horizontalpodautoscalers", "autoscaling", None, None), True),
    (("patch", "deployments", "apps", f"{FULLNAME}-stable", None), True),
    (("patch", "deployments", "apps", f"{FULLNAME}-canary", None), True),
    (("patch", "services", "", FULLNAME, None), True),
    (("patch", "services", "", f"{FULLNAME}-canary", None), True),
    # ... and nothing more (the scenario renders no Ingress or route, so none may be patched):
    (("patch", "ingresses", "networking.k8s.io", "any", None), False),
    (("patch", "httproutes", "gateway.networking.k8s.io", "any", None), False),
    (("patch", "deployments", "apps", "someone-elses", None), False),
    (("delete", "deployments", "apps", f"{FULLNAME}-stable", None), False),
    (("update", "deployments", "apps", f"{FULLNAME}-stable", None), False),
    (("patch", "deployments", "apps", f"{FULLNAME}-stable", "scale"), False),
    (("create", "pods", "", None, None), False),
    (("create", "pods", "", "x", "exec"), False),
    (("get", "secrets", "", None, None), False),
    (("list", "configmaps", "", None, None), False),
    (("create", "rolebindings", "rbac.authorization.k8s.io", None, None), False),
]


def test_deployer_role_grants_what_the_readme_says_and_nothing_more(cluster, namespace):
    ns = namespace("deployer-rbac")
    other = namespace("elsewhere")
    release = HelmRelease(RELEASE, ns, cluster.kubeconfig)
    release.install([next(p for p in ci_values_files() if p.name == "deployer-rbac-values.yaml")])
    subjects = [("system:serviceaccount:ci:release-promoter", []), ("oncall-person", ["ml-platform-oncall"])]
    wrong = []
    for user, groups in subjects:
        for (verb, resource, group, name, sub), allowed in DEPLOYER_RIGHTS:
            if can_i(cluster, user, groups, verb, resource, ns, group=group, name=name, subresource=sub) != allowed:
                wrong.append(f"{user}: {verb} {resource}/{sub or ''} {name or ''}: expected {'allowed' if allowed else 'denied'}")
        for verb, resource, group in (("get", "pods", ""), ("patch", "deployments", "apps")):
            if can_i(cluster, user, groups, verb, resource, other, group=group, name=f"{FULLNAME}-stable"):
                wrong.append(f"{user}: {verb} {resource} allowed in namespace {other}, outside the release")
    assert not wrong, "\n".join(wrong)


def test_serving_service_account_can_do_nothing(cluster, namespace):
    ns = namespace("serving-sa")
    HelmRelease(RELEASE, ns, cluster.kubeconfig).install()
    user = f"system:serviceaccount:{ns}:{FULLNAME}"
    checks = [("get", "pods", ""), ("list", "secrets", ""), ("get", "configmaps", ""), ("list", "endpoints", ""),
              ("watch", "services", ""), ("get", "deployments", "apps"), ("create", "pods", "")]
    allowed = [f"{verb} {resource}" for verb, resource, group in checks if can_i(cluster, user, [], verb, resource, ns, group=group)]
    assert not allowed, f"{user} may {allowed}"


def evict(core, namespace, pod):
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
    try:
        core.create_namespaced_pod_eviction(pod, namespace, body)
        return 201
    except ApiException as error:
        return error.status


def serving_pods(core, namespace):
    return [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={RELEASE},tf-serving.io/track").items
            if not p.metadata.deletion_timestamp]


def wait_disruptions_allowed(policy, namespace, expected):
    def check():
        status = policy.read_namespaced_pod_disruption_budget(FULLNAME, namespace).status
        return bool(status) and status.disruptions_allowed == expected and status.current_healthy == 2, status and status.to_dict()

    wait_until(check, what=f"PodDisruptionBudget {FULLNAME} to allow {expected} disruption(s)", timeout=60)


# Each case drains a node of its own (they may run at the same time): the last and the one before it.
@pytest.mark.parametrize(("budget", "allowed", "node_index"), [({"maxUnavailable": 1}, 1, -1), ({"minAvailable": "50%"}, 1, -2)],
                         ids=["max-unavailable-1", "min-available-50-percent"])
def test_eviction_is_refused_when_it_would_break_the_budget(cluster, kube_api, namespace, budget, allowed, node_index, tmp_path):
    """A drain as kubectl does it: cordon the node, then evict its pods one by one. The stand-in
    kubelet makes a replacement Ready at once, so the pods run on a node of their own, cordoned
    before the evictions: the replacements stay Pending and the budget stays spent."""
    core, policy = client.CoreV1Api(kube_api), client.PolicyV1Api(kube_api)
    ns = namespace("pdb")
    node = sorted(n.metadata.name for n in core.list_node().items)[node_index]
    label = f"tfs-test.example.com/drain-{ns}"
    core.patch_node(node, {"metadata": {"labels": {label: "true"}}})
    try:
        values = tmp_path / "values.yaml"
        values.write_text(json.dumps({"replicaCount": 2, "nodeSelector": {label: "true"}, "podDisruptionBudget": {"enabled": True, **budget}}))
        HelmRelease(RELEASE, ns, cluster.kubeconfig).install([values])
        wait_disruptions_allowed(policy, ns, allowed)
        core.patch_node(node, {"spec": {"unschedulable": True}})
        codes = [evict(core, ns, pod) for pod in serving_pods(core, ns)]
        assert codes == [201] * allowed + [429] * (2 - allowed), f"evictions answered {codes}: the budget allows {allowed}"
    finally:
        core.patch_node(node, {"spec": {"unschedulable": None}, "metadata": {"labels": {label: None}}})


def test_a_budget_that_never_allows_an_eviction_is_refused_before_anything_is_created(cluster, kube_api, namespace):
    """minAvailable equal to the replicas would block every node drain: the chart refuses it at
    install (the cluster tier used to show the Eviction API's 429 for it), and nothing is left behind."""
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    ns = namespace("pdb-never")
    result = HelmRelease(RELEASE, ns, cluster.kubeconfig).install(
        set_values={"replicaCount": "2", "podDisruptionBudget.enabled": "true", "podDisruptionBudget.minAvailable": "2"}, check=False)
    assert result.returncode != 0 and "podDisruptionBudget.minAvailable (2) of the 2 pods of track main" in result.stderr, result.stderr
    assert apps.list_namespaced_deployment(ns).items == [] and core.list_namespaced_config_map(ns, label_selector=f"app.kubernetes.io/instance={RELEASE}").items == []

