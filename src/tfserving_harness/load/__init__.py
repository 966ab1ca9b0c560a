"""Load testing TF Serving with Locust: payloads from the model's signature, response checks,
open-model pacing, load shapes, thresholds, the server-side metrics view, the autoscaling
verifier, capacity analysis and reports. `loadtests/locustfile.py` imports `users`; everything
else here is plain Python and unit-testable without Locust running.

`standin` is a stand-in for TF Serving, for the load tier and `make bench-load` only.
"""
