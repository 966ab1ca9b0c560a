"""tfserving_harness.clients without a server: request bodies in both demo shapes, predictions read
back, which version answered, the PredictRequest for gRPC, and how steady clients are named."""

from __future__ import annotations

import pytest

from tfserving_harness import clients


def test_bodies_for_the_harness_demo_rows_and_the_charts_scalar_demo():
    assert clients.rest_predict_body([1.0, 2.0]) == '{"instances": [[1.0], [2.0]]}'
    assert clients.rest_predict_body([1.0, 2.0, 5.0], scalar=True) == '{"instances": [1.0, 2.0, 5.0]}'
    assert clients.flat_predictions({"predictions": [[2.5], [3.0]]}) == [2.5, 3.0]
    assert clients.flat_predictions({"predictions": [2.5, 3.0, 4.5]}) == [2.5, 3.0, 4.5]


def test_answers_identify_their_version():
    assert clients.version_of_answer([1.0, 2.0], [2.5, 3.0]) == 1
    assert clients.version_of_answer([1.0], [3.5]) == 2
    assert clients.version_of_answer([1.0], [4.5]) == 3
    with pytest.raises(ValueError, match="no version"):
        clients.version_of_answer([1.0], [9.0])


def test_paths_by_version_or_label():
    assert clients.rest_predict_path("m") == "/v1/models/m:predict"
    assert clients.rest_predict_path("m", label="canary") == "/v1/models/m/labels/canary:predict"
    assert clients.rest_predict_path("m", version=2) == "/v1/models/m/versions/2:predict"
    with pytest.raises(ValueError, match="not both"):
        clients.rest_predict_path("m", version=2, label="canary")


def test_grpc_request_shapes_and_model_spec():
    rows = clients.predict_request("half_plus_two", [1.0, 2.0], label="stable")
    assert [d.size for d in rows.inputs["x"].tensor_shape.dim] == [2, 1] and list(rows.inputs["x"].float_val) == [1.0, 2.0]
    assert rows.model_spec.version_label == "stable" and rows.model_spec.signature_name == "serving_default"
    scalar = clients.predict_request("half_plus_two", [1.0, 2.0, 5.0], version=1, scalar=True)
    assert [d.size for d in scalar.inputs["x"].tensor_shape.dim] == [3] and scalar.model_spec.version.value == 1


def test_steady_clients_are_named_by_protocol_and_connection_habit():
    assert clients.PredictClient("grpc", "long-lived", "http://h:8501", "h:8500").kind == "grpc long-lived"
    assert clients.PredictClient("rest", "long-lived", "http://h:8501", "h:8500").kind == "rest keep-alive"
    assert clients.PredictClient("rest", "fresh", "http://h:8501", "h:8500").kind == "rest fresh"
    with pytest.raises(ValueError, match="protocol must be one of"):
        clients.PredictClient("http", "fresh", "http://h:8501", "h:8500")
