"""Load testing TF Serving with Locust: payloads from the model's signature, response checks,
open-model pacing, load shapes, thresholds, the server-side metrics view, the autoscaling
verifier, capacity analysis and reports. `loadtests/locustfile.py` imports `users`; everything
else here is plain Python and unit-testable without Locust running.

The TF Serving stand-in the load tier and `make bench-load` run is `tfserving_harness.standin`.
"""
