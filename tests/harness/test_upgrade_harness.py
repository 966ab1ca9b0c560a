"""tfserving_harness.upgrade: finds the changes an upgrade cannot apply, on hand-made documents."""

from __future__ import annotations

import yaml

from tfserving_harness import upgrade
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import identity, one


def _deployment(name="web", track="a", template_label="a"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "x", "track": track}},
            "template": {"metadata": {"labels": {"app": "x", "track": template_label}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        },
    }


def _service(name="web", cluster_ip=None, selector=None):
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"}, "spec": {"selector": selector or {"app": "x"}, "ports": [{"port": 80}]}}
    if cluster_ip:
        doc["spec"]["clusterIP"] = cluster_ip
    return doc


def _pvc(storage="10Gi", storage_class="fast"):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "ns"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class, "resources": {"requests": {"storage": storage}}},
    }


def test_identical_renders_are_safe(default_docs):
    report = upgrade.compare(default_docs, default_docs)
    assert report.safe and report.immutable == [] and report.removed == [] and report.added == []
    assert "upgrade is safe" in str(report)


def test_a_changed_deployment_selector_is_reported_with_both_values():
    report = upgrade.compare([_deployment(track="a")], [_deployment(track="b", template_label="b")])
    (change,) = report.immutable
    assert (change.object, change.field) == ("Deployment/web", "spec.selector")
    assert change.before == {"matchLabels": {"app": "x", "track": "a"}}
    assert change.after == {"matchLabels": {"app": "x", "track": "b"}}
    assert not report.safe and "immutable" in str(report)


def test_pod_template_and_replica_changes_are_not_immutable_changes():
    after = _deployment()
    after["spec"]["replicas"] = 5
    after["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    report = upgrade.compare([_deployment()], [after])
    assert report.safe
    assert upgrade.changed_paths(_deployment()["spec"], after["spec"]) == ["replicas", "template.spec.containers[0].image"]


def test_a_renamed_service_is_a_removed_object_and_a_new_one():
    report = upgrade.compare([_service("web")], [_service("web-main")])
    assert report.removed == ["Service/web"] and report.added == ["Service/web-main"]
    assert not report.safe


def test_service_selector_may_change_but_cluster_ip_may_not():
    moved = upgrade.compare([_service(selector={"track": "blue"})], [_service(selector={"track": "green"})])
    assert moved.safe, "a Service's selector is mutable: that is how blue/green switches"
    report = upgrade.compare([_service(cluster_ip="10.0.0.1")], [_service(cluster_ip="None")])
    assert [(c.object, c.field) for c in report.immutable] == [("Service/web", "spec.clusterIP")]


def test_pvc_storage_class_change_and_shrink_are_reported_growth_is_not():
    assert upgrade.compare([_pvc("10Gi")], [_pvc("20Gi")]).safe
    report = upgrade.compare([_pvc("10Gi", "fast")], [_pvc("5Gi", "slow")])
    assert sorted(c.field for c in report.immutable) == ["spec.resources.requests.storage", "spec.storageClassName"]


def test_immutable_configmap_data_change_is_reported():
    before = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": True, "data": {"k": "1"}}
    after = {**before, "data": {"k": "2"}}
    assert [c.field for c in upgrade.compare([before], [after]).immutable] == ["data"]
    assert upgrade.compare([{**before, "immutable": False}], [{**after, "immutable": False}]).safe


def test_objects_are_matched_by_group_kind_namespace_and_name(default_docs):
    """A Deployment and a Service of the same name are different objects; so are two namespaces."""
    other_namespace = thaw(one(default_docs, "Deployment"))
    other_namespace["metadata"]["namespace"] = "elsewhere"
    other_namespace["spec"]["selector"]["matchLabels"]["x"] = "y"
    report = upgrade.compare(default_docs, [*default_docs, other_namespace])
    assert report.immutable == [] and report.added == ["Deployment/tfs-tf-serving"]


def test_by_object_groups_changes():
    before = [_deployment("a"), _deployment("b")]
    after = [_deployment("a", track="z", template_label="z"), _deployment("b")]
    assert list(upgrade.compare(before, after).by_object()) == ["Deployment/a"]


def test_changed_paths_sees_empty_containers_and_ignores_key_order():
    assert upgrade.changed_paths({"a": {}, "b": 1}, {"b": 1}) == ["a"]
    assert upgrade.changed_paths({"a": []}, {"a": [1]}) == ["a", "a[0]"]
    assert upgrade.changed_paths({"x": 1, "y": {"z": 2}}, {"y": {"z": 2}, "x": 1}) == []


def test_parse_manifest_reads_helm_get_manifest_output(default_docs):
    text = "---\n# Source: tf-serving/templates/service.yaml\n" + "---\n".join(yaml.safe_dump(thaw(d)) for d in default_docs)
    parsed = upgrade.parse_manifest(text)
    assert [identity(d) for d in parsed] == [identity(d) for d in default_docs]
    assert upgrade.compare(default_docs, parsed).safe
