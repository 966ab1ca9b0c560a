#!/usr/bin/env python3
"""Check your values file(s) before `helm install`, with the checks the chart's unit tier runs.

    .venv/bin/python scripts/check_values.py --values my-values.yaml [--values more.yaml]
        [--kube-version 1.31.0] [--api-versions monitoring.coreos.com/v1] [--release NAME] [--namespace NS]
        [--pod-security restricted] [--renderer sdk|binary]

What it checks, and the exit codes: tfserving_harness/values_check.py (its docstring). Either
renderer works: Helm 4 in-process (`sdk`, the default when helm-python-sdk is installed) or the
Helm 3.17 binary (`binary`); the chart's unit tier requires both to render the same objects.
"""

import sys

from tfserving_harness.values_check import main

if __name__ == "__main__":
    sys.exit(main())
