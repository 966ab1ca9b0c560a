"""The chart README's "Coming from tutorials" table lists every error of the blog post this project
grew from (issue 12, section 5), and the ones the chart can refuse are refused."""

from __future__ import annotations

import re

import pytest

from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import render_error

#: One phrase of the "Common advice" cell of each error in the blog post.
TUTORIAL_ERRORS = [
    "tensorflow/serving:latest", "`v1.2.3`", '"validate"', "TF_SERVING_ENABLE_BATCHING", "batching_parameters { ... }",
    "`subPath`", "Scrape `/metrics`", "port named `metrics`", "prometheus_client", "avg(rate(", 'status="error"',
    "available_instances", "Pods/External metrics", "memory-utilisation HPA", "ReadWriteOnce volume shared",
    "Role/RoleBinding", "NetworkPolicy with egress to monitoring", "TensorFlow.js", "A liveness probe",
    "as the readiness probe", '"Load Balancer"', "Two Deployments of the same model path", "canary annotation",
    "GitHub-hosted runner", "500m CPU limit",
]


def tutorial_rows() -> list[list[str]]:
    text = (chart_dir() / "README.md").read_text()
    section = text[text.index("## Coming from tutorials"):text.index("## Parameters")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Common advice")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_every_tutorial_error_has_a_row_with_what_goes_wrong_and_what_the_chart_does():
    rows = tutorial_rows()
    for phrase in TUTORIAL_ERRORS:
        matching = [row for row in rows if phrase in row[0]]
        assert len(matching) == 1, f"{phrase!r}: {len(matching)} rows"
        assert all(len(cell) > 20 for cell in matching[0][1:]), matching[0]
    assert len(rows) == len(TUTORIAL_ERRORS), [row[0] for row in rows]


@pytest.mark.parametrize("tag", ["latest", "latest-gpu"])
def test_a_moving_image_tag_is_refused(tag):
    values = {"image": {"tag": tag}, **({"gpu": {"enabled": True}} if "gpu" in tag else {})}
    assert f'tf-serving: image.tag is "{tag}", which moves' in render_error(values)


def test_a_moving_tag_is_refused_per_track():
    assert 'tf-serving: tracks.canary.image.tag is "latest"' in render_error({"tracks": {"stable": {}, "canary": {"image": {"tag": "latest"}}}})


def test_a_pinned_digest_makes_the_tag_a_label(render):
    assert render({"image": {"tag": "latest", "digest": "sha256:" + "0" * 64}})
