"""The rollout tool's smoke test (tfserving_harness.rollout.smoke: every model has an AVAILABLE
version, and one prediction built from the model's own signature answers) against the TF Serving
stand-in, the one stand-in of TF Serving the project has."""

from __future__ import annotations

import pytest

from tfserving_harness.rollout.smoke import SmokeFailed, smoke_test
from tfserving_harness.standin import launch

MODELS = [{"name": "half_plus_two"}]


def test_smoke_test_asks_status_metadata_and_one_prediction_built_from_the_signature():
    with launch.demo_server() as server:
        said = []
        smoke_test(None, "", MODELS, say=said.append, base_url=server.rest_url)
        assert "AVAILABLE" in said[-1] and "prediction answered" in said[-1]
        assert launch.predictions_served(server, "half_plus_two") == 1, "one prediction, counted by the server"
        with pytest.raises(SmokeFailed, match=r"model resnet has no AVAILABLE version \(HTTP 404"):
            smoke_test(None, "", [{"name": "resnet"}], say=said.append, base_url=server.rest_url)


def test_smoke_test_fails_on_a_model_the_server_knows_but_serves_no_version_of():
    with launch.demo_server(available=False) as server:
        with pytest.raises(SmokeFailed, match=r"model half_plus_two has no AVAILABLE version \(HTTP 200, states \['END', 'END'\]\)"):
            smoke_test(None, "", MODELS, say=lambda _: None, base_url=server.rest_url)
