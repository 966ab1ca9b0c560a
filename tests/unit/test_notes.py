"""NOTES.txt tells the user how to reach REST and gRPC and query model status."""

from __future__ import annotations

from tfserving_harness import helm


def test_notes_show_rest_grpc_and_status_for_every_model():
    notes = helm.render_notes({"models": [{"name": "resnet", "basePath": "/m/resnet"}, {"name": "bert", "basePath": "/m/bert"}]})
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
