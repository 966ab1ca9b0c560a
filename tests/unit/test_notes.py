"""NOTES.txt: what `helm install` prints for each variant (rendered without a cluster by the harness)."""

from __future__ import annotations

import shutil

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir


def test_default_notes_name_the_service_and_the_model_status_url():
    notes = helm.render_notes()
    assert "Service tfs-tf-serving (track main): gRPC on port 8500, REST on port 8501." in notes
    assert "curl http://localhost:8501/v1/models/half_plus_two" in notes
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


def test_notes_print_label_urls_for_models_with_version_labels(tmp_path):
    """`versionLabels` belongs to the server-config part of the chart; a copy without the schema
    shows that NOTES.txt prints one predict URL per label, and none for models without labels."""
    chart = tmp_path / "tf-serving"
    shutil.copytree(chart_dir(), chart)
    (chart / "values.schema.json").unlink()
    models = [
        {"name": "resnet", "basePath": "/models/resnet", "versionLabels": {"stable": 3, "canary": 4}},
        {"name": "bert", "basePath": "/models/bert"},
    ]
    notes = helm.render_notes({"models": models}, chart=chart)
    assert "http://localhost:8501/v1/models/resnet/labels/stable:predict   # version 3" in notes
    assert "http://localhost:8501/v1/models/resnet/labels/canary:predict   # version 4" in notes
    assert "/v1/models/bert/labels/" not in notes and "curl http://localhost:8501/v1/models/bert" in notes
