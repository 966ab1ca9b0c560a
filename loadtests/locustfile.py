"""TF Serving load tests: `locust -f loadtests/` (see loadtests/README.md).

Users: RestUser (REST :predict) and GrpcUser (gRPC Predict); pick one with Locust's class
selection, e.g. `locust -f loadtests/ --headless GrpcUser`. The shape follows `--load-profile`.
Everything lives in tfserving_harness.load; its options are in users.add_options (loadtests/README.md).
"""

from tfserving_harness.load.users import GrpcUser, RestUser, TfServingShape

__all__ = ["GrpcUser", "RestUser", "TfServingShape"]
