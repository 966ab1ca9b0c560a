"""Resources: requests within limits, per track and colour, compared as Kubernetes quantities
(tf-serving.quantityMilli) after the track overrides and the GPU limit are applied."""

from __future__ import annotations

import pytest

from tfserving_harness.manifests import of_kind, server_container
from tfserving_harness.testing import assert_no_problems, assert_refused

ABOVE = "is more than"


def _memory(request, limit) -> dict:
    return {"resources": {"requests": {"cpu": "500m", "memory": request}, "limits": {"cpu": "2", "memory": limit}}}


@pytest.mark.parametrize(
    ("request_", "limit"),
    [
        ("1Gi", "1024Mi"),
        ("1.5Gi", "1536Mi"),
        ("1000M", "1G"),
        ("1e3", "1k"),
        ("1E", "1e18"),
        ("1Ei", "1152921504606846976"),
        ("128974848", "129e6"),
        ("0.5Gi", "512Mi"),
        (".5Gi", "512Mi"),
        ("5.", "5"),
        (1073741824, "1Gi"),
    ],
)
def test_equal_quantities_in_other_units_are_within_the_limit(render, request_, limit):
    """Equal by value, whatever the spelling: binary and decimal suffixes, exponents, fractions, plain numbers."""
    docs = render(_memory(request_, limit))
    assert server_container(of_kind(docs, "Deployment")[0])["resources"]["requests"]["memory"] == request_


@pytest.mark.parametrize(
    ("request_", "limit"),
    [
        ("3000Mi", "2Gi"),
        ("1025Mi", "1Gi"),
        ("1073741825", "1Gi"),
        ("1.1G", "1Gi"),
        ("2e9", "1Gi"),
        ("1001k", "1M"),
        ("1Ei", "1E"),
    ],
)
def test_a_memory_request_above_the_limit_by_value_is_refused(request_, limit):
    assert_refused(_memory(request_, limit), f"resources.requests.memory ({request_}) {ABOVE} resources.limits.memory ({limit})")


@pytest.mark.parametrize(("request_", "limit", "refused"), [("1000m", "1", False), ("1001m", "1", True), ("0.1", "100m", False), ("1e-3", "1m", False), ("2m", "1e-3", True), ("1", 0.5, True)])
def test_cpu_compares_in_thousandths(render, request_, limit, refused):
    values = {"resources": {"requests": {"cpu": request_}, "limits": {"cpu": limit}}}
    if refused:
        assert_refused(values, f"resources.requests.cpu ({request_}) {ABOVE} resources.limits.cpu ({limit})")
    else:
        assert_no_problems(render(values))


def test_a_request_without_a_limit_is_fine(render):
    assert_no_problems(render({"resources": {"requests": {"cpu": "8", "memory": "64Gi"}, "limits": None}}))


def test_text_outside_the_quantity_grammar_is_refused_at_its_path():
    """The schema's Quantity pattern lets a decimal exponent through; the API server's parser does not."""
    assert_refused({"resources": {"limits": {"cpu": "1e1.5"}}}, 'resources.limits.cpu "1e1.5" is not a Kubernetes quantity')


def test_a_track_that_replaces_resources_is_checked_with_its_own_path():
    values = {"tracks": {"stable": {}, "canary": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}}, "primaryTrack": "stable"}
    assert_refused(values, f"tracks.canary.resources.requests.cpu (2) {ABOVE} tracks.canary.resources.limits.cpu (1), for the server container of track canary")


def test_a_track_keeps_the_top_level_resources_unless_it_replaces_them():
    """The defaults' limit applies to a track without its own resources: its path is the top-level one."""
    values = {"resources": {"requests": {"memory": "3Gi"}}, "tracks": {"stable": {}, "canary": {"resources": {"requests": {"memory": "3Gi"}, "limits": {"memory": "4Gi"}}}}, "primaryTrack": "stable"}
    assert_refused(values, f"resources.requests.memory (3Gi) {ABOVE} resources.limits.memory (2Gi), for the server container of track stable")


def test_the_idle_colour_is_checked_too():
    values = {"blueGreen": {"enabled": True, "active": "blue", "green": {"resources": {"requests": {"memory": "4Gi"}, "limits": {"memory": "2Gi"}}}}}
    assert_refused(values, f"blueGreen.green.resources.requests.memory (4Gi) {ABOVE} blueGreen.green.resources.limits.memory (2Gi), for the server container of track green")


def test_a_gpu_request_is_checked_against_the_chart_made_gpu_limit(render):
    gpu = {"gpu": {"enabled": True, "count": 1}}
    assert_refused({**gpu, "resources": {"requests": {"nvidia.com/gpu": 2}}}, f"resources.requests.nvidia.com/gpu (2) {ABOVE} gpu.count (1)")
    docs = render({**gpu, "resources": {"requests": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1}, "limits": {"cpu": "1", "memory": "1Gi"}}})
    assert server_container(of_kind(docs, "Deployment")[0])["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_the_download_container_is_checked_when_it_runs():
    init = {"modelStorage": {"source": "initContainer", "initContainer": {"image": {"repository": "amazon/aws-cli", "tag": "2.17.0"}, "command": ["true"], "resources": {"requests": {"memory": "1Gi"}}}}}
    assert_refused(init, f"modelStorage.initContainer.resources.requests.memory (1Gi) {ABOVE} modelStorage.initContainer.resources.limits.memory (512Mi), for the download container")
