"""NOTES.txt: how to reach REST and gRPC and query model status, and what to run for each variant
(rendered without a cluster by helm.render_notes)."""

from __future__ import annotations

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir


def test_notes_show_rest_grpc_and_status_for_every_model():
    notes = helm.render_notes({"models": [{"name": "resnet", "basePath": "/m/resnet"}, {"name": "bert", "basePath": "/m/bert"}], "modelStorage": {"source": "none"}})
    assert "port-forward service/tfs-tf-serving 8501:http 8500:grpc" in notes
    for model in ("resnet", "bert"):
        assert f"curl -s http://localhost:8501/v1/models/{model}\n" in notes
        assert f"/v1/models/{model}:predict" in notes
        assert f'{{"model_spec": {{"name": "{model}"}}}}' in notes
    assert "tensorflow.serving.ModelService/GetModelStatus" in notes
    assert "curl -s http://localhost:8501/monitoring/prometheus/metrics" in notes


def test_notes_follow_the_metrics_values():
    assert "/monitoring/prometheus/metrics" not in helm.render_notes({"metrics": {"enabled": False}})
    assert "localhost:8501/custom/metrics" in helm.render_notes({"metrics": {"path": "/custom/metrics"}})


def test_default_notes_name_the_service_and_the_model_status_url():
    notes = helm.render_notes()
    assert "Service tfs-tf-serving (track main): gRPC on port 8500, REST on port 8501." in notes
    assert "curl -s http://localhost:8501/v1/models/half_plus_two\n" in notes
    assert "labels/" not in notes and "Canary" not in notes and "Blue/green" not in notes


def test_notes_list_track_services_and_the_safe_canary_procedure():
    notes = helm.render_notes(
        {
            "tracks": {"stable": {}, "canary": {}},
            "primaryTrack": "stable",
            "canary": {"enabled": True, "weight": 10, "header": {"name": "X-Canary", "value": "tester"}},
            "ingress": {"enabled": True},
        }
    )
    assert "tfs-tf-serving-stable  (track stable, primary)" in notes and "tfs-tf-serving-canary  (track canary)" in notes
    assert "Canary: 10% of requests go to track canary (and every request with header X-Canary: tester)." in notes
    rollout = notes.index("rollout status deployment/tfs-tf-serving-canary")
    assert rollout < notes.index("--set canary.weight="), "rollout status comes before the weight moves"


def test_notes_print_label_urls_for_models_with_version_labels():
    models = [
        {
            "name": "resnet",
            "basePath": "/models/resnet",
            "versionPolicy": {"specific": {"versions": [3, 4]}},
            "versionLabels": {"stable": 3, "canary": 4},
        },
        {"name": "bert", "basePath": "/models/bert"},
    ]
    notes = helm.render_notes({"models": models, "server": {"allowVersionLabelsForUnavailableModels": True}, "modelStorage": {"source": "none"}})
    assert "http://localhost:8501/v1/models/resnet/labels/stable:predict -d '{\"instances\": [...]}'   # version 3" in notes
    assert "http://localhost:8501/v1/models/resnet/labels/canary:predict -d '{\"instances\": [...]}'   # version 4" in notes
    assert "/v1/models/bert/labels/" not in notes and "curl -s http://localhost:8501/v1/models/bert\n" in notes


def test_tfs_version_labels_scenario_prints_both_label_urls():
    notes = helm.render_notes(values_files=[chart_dir() / "ci" / "tfs-version-labels-values.yaml"])
    assert "/v1/models/resnet/labels/stable:predict" in notes and "# version 3" in notes
    assert "/v1/models/resnet/labels/canary:predict" in notes and "# version 4" in notes
