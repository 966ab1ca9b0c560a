"""The autoscaling loop on k8s-local's real node, with the smallest faithful stand-ins for what cannot
be had there (test tooling only; kind runs the real components):

- `scrape_config`: Prometheus scrape configs generated from a ServiceMonitor/PodMonitor the way
  prometheus-operator generates them (pkg/prometheus/promcfg.go, v0.93.0);
- `prometheus`: a real Prometheus (Debian's package) on loopback, discovering the release's pods
  through the real API server;
- `aggregated`: the HTTPS server and APIService registration an aggregated metrics API needs;
- `adapter`: the prometheus-adapter STAND-IN: custom.metrics.k8s.io (v1beta1, v1beta2) from the
  chart's own adapter rules, answered from the real Prometheus;
- `metrics_server`: the metrics-server STAND-IN: metrics.k8s.io/v1beta1 PodMetrics from the real
  kubelet's `/metrics/resource`.
"""
