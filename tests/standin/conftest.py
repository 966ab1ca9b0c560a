"""The stand-in tier: the TF Serving stand-in (tfserving_harness.standin) run as a local process
with tensorflow_model_server flags against the demo model built with TensorFlow. Each test names
the tensorflow/serving behaviour it checks; the module docstrings of the stand-in cite the sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tfserving_harness import demo_model
from tfserving_harness.standin import launch


@pytest.fixture(scope="session")
def demo_versions(tmp_path_factory) -> Path:
    """The demo model's versions 1-3, built once; tests copy what they serve."""
    folder = tmp_path_factory.mktemp("demo") / demo_model.MODEL_NAME
    demo_model.build(folder, (1, 2, 3))
    return folder


@pytest.fixture
def model_dir(tmp_path, demo_versions):
    """copy(versions) -> a base path holding those versions of the demo model."""

    def copy(versions=(1, 2), name: str = demo_model.MODEL_NAME) -> Path:
        base = tmp_path / "models" / name
        base.mkdir(parents=True, exist_ok=True)
        for version in versions:
            shutil.copytree(demo_versions / str(version), base / str(version))
        return base

    return copy


@pytest.fixture
def write_config(tmp_path):
    """write(*launch.model_entry(...)) -> the models.config path, replaced atomically like a ConfigMap update."""
    path = tmp_path / "config" / "models.config"
    path.parent.mkdir(exist_ok=True)

    def write(*entries: str) -> Path:
        staging = path.with_suffix(".new")
        staging.write_text(launch.models_config(*entries))
        staging.replace(path)
        return path

    return write


@pytest.fixture
def monitoring_config(tmp_path) -> Path:
    path = tmp_path / "monitoring.config"
    path.write_text('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n')
    return path
