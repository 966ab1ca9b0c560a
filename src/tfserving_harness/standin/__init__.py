"""A TF Serving stand-in: a local program that behaves like `tensorflow_model_server` 2.20.0 on
every point the tf-serving chart relies on, for the load tier, `make bench-load` and the end-to-end
tier on k8s-local's real node (as the image `tfserving-standin/tensorflow-serving:2.20.0-standin`,
built by `make standin-image`). It is test tooling, never the chart's image: the chart, its
defaults and the kind tier always run the real `tensorflow/serving`.

It serves real SavedModels with real TensorFlow and follows the tensorflow/serving source module by
module (each module's docstring cites the files it follows): `flags` (the command line), `core`
(config reloads, version polling, loading, labels), `servable` (SavedModel, predict, warmup),
`json_tensor` and `rest` (the REST port as evhttp serves it), `grpc_service` (gRPC with the thread
quota, health, channel arguments), `metrics` (the Prometheus page), `server` (start order).
`knobs` holds the load tier's stand-in-only capacity knobs (environment variables). What it does
not reproduce is listed in docs/standin.md.

    python -m tfserving_harness.standin --port=8500 --rest_api_port=8501 --model_config_file=models.config
"""
