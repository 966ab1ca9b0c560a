"""Harness for the tf-serving Helm chart.

Rendering (`helm`), Kubernetes and CRD schema validation (`k8s_schema`, `crds`), TF Serving config
parsing with the server's own message definitions (`tfs_config`), chart invariants (`checks`) and
the values documentation generator (`values_docs`). Tests, scripts and load tests import from here.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
