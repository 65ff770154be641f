// Relabeling throughput. The metric_relabel_configs cases run on a sample's label set as the scrape loop
// would, with rules that leave it unchanged (keep/drop on __name__, a no-op replace): those must stay far
// above 1M label sets/s/core and allocate nothing. "kubernetes" is Prometheus' own BenchmarkRelabel target
// pipeline (model/relabel/relabel_test.go), copy of the 29-label input included.
#include <benchmark/benchmark.h>

#include <stdexcept>

#include "scraper/relabel.hpp"

namespace {

using namespace sigv4::scraper;
using enum relabel_action;

relabel_rule make(relabel_spec s) {
  auto r = compile(s);
  if (auto* e = std::get_if<std::string>(&r)) throw std::runtime_error(*e);
  return std::get<relabel_rule>(std::move(r));
}

relabel_spec spec(relabel_action a, std::vector<std::string> src, std::string regex, std::string target = {},
                  std::string replacement = "$1") {
  relabel_spec s;
  s.action = a;
  s.source_labels = std::move(src);
  s.regex = std::move(regex);
  s.regex_set = true;
  s.target_label = std::move(target);
  s.replacement = std::move(replacement);
  return s;
}

labels sample_labels() {
  labels ls = {{"__name__", "http_requests_total"}, {"code", "200"},       {"handler", "/api/v1/query"},
               {"instance", "10.0.0.1:9090"},       {"job", "prometheus"}, {"method", "get"}};
  sort_labels(ls);
  return ls;
}

void run_unchanged(benchmark::State& state, const relabel_rules& rules) {
  labels ls = sample_labels();
  for (auto _ : state) {
    bool kept = process(ls, rules);
    benchmark::DoNotOptimize(kept);
    benchmark::DoNotOptimize(ls.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_keep_name(benchmark::State& state) {
  run_unchanged(state, {make(spec(keep, {"__name__"}, "http_requests_total|up|node_.*"))});
}
BENCHMARK(BM_keep_name);

void BM_drop_name_no_match(benchmark::State& state) {
  run_unchanged(state, {make(spec(drop, {"__name__"}, "go_.*|process_.*"))});
}
BENCHMARK(BM_drop_name_no_match);

void BM_keep_two_sources(benchmark::State& state) {
  run_unchanged(state, {make(spec(keep, {"__name__", "code"}, "http_.*;2.."))});
}
BENCHMARK(BM_keep_two_sources);

void BM_replace_unchanged(benchmark::State& state) {
  run_unchanged(state, {make(spec(replace, {"job"}, "(.*)", "job"))});
}
BENCHMARK(BM_replace_unchanged);

void BM_labeldrop_no_match(benchmark::State& state) {
  run_unchanged(state, {make(spec(labeldrop, {}, "__tmp_.*|pod_template_hash"))});
}
BENCHMARK(BM_labeldrop_no_match);

void BM_hashmod(benchmark::State& state) {
  relabel_spec s = spec(hashmod, {"instance"}, "(.*)", "__tmp_hash");
  s.regex_set = false;
  s.modulus = 4;
  run_unchanged(state, {make(s)});
}
BENCHMARK(BM_hashmod);

void BM_kubernetes(benchmark::State& state) {
  auto with_sep = [](relabel_spec s, std::string sep) {
    s.separator = std::move(sep);
    return s;
  };
  relabel_spec hm = spec(hashmod, {"__address__"}, "(.*)", "__tmp_hash");
  hm.regex_set = false;
  hm.modulus = 3;
  relabel_spec cluster = spec(replace, {}, "(.*)", "cluster", "dev-us-central-0");
  const relabel_rules rules = {
      make(spec(keep, {"__meta_kubernetes_pod_container_port_name"}, ".*-metrics")),
      make(spec(drop, {"__meta_kubernetes_pod_label_name"}, "")),
      make(spec(drop, {"__meta_kubernetes_pod_phase"}, "Succeeded|Failed")),
      make(spec(drop, {"__meta_kubernetes_pod_annotation_prometheus_io_scrape"}, "false")),
      make(
          spec(replace, {"__meta_kubernetes_pod_annotation_prometheus_io_scheme"}, "(https?)", "__scheme__")),
      make(
          spec(replace, {"__meta_kubernetes_pod_annotation_prometheus_io_path"}, "(.+)", "__metrics_path__")),
      make(spec(replace, {"__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"},
                R"((.+?)(\:\d+)?;(\d+))", "__address__", "$1:$3")),
      make(spec(labelmap, {}, "__meta_kubernetes_pod_annotation_prometheus_io_param_(.+)", {}, "__param_$1")),
      make(spec(labelmap, {}, "__meta_kubernetes_pod_label_prometheus_io_label_(.+)")),
      make(spec(labelmap, {}, "__meta_kubernetes_pod_annotation_prometheus_io_label_(.+)")),
      make(with_sep(
          spec(replace, {"__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_name"}, "(.*)", "job"),
          "/")),
      make(spec(replace, {"__meta_kubernetes_namespace"}, "(.*)", "namespace")),
      make(spec(replace, {"__meta_kubernetes_pod_name"}, "(.*)", "pod")),
      make(spec(replace, {"__meta_kubernetes_pod_container_name"}, "(.*)", "container")),
      make(with_sep(spec(replace,
                         {"__meta_kubernetes_pod_name", "__meta_kubernetes_pod_container_name",
                          "__meta_kubernetes_pod_container_port_name"},
                         "(.*)", "instance"),
                    ":")),
      make(cluster),
      make(spec(drop, {"__meta_kubernetes_namespace"}, "hosted-grafana")),
      make(hm),
      make(spec(keep, {"__tmp_hash"}, "^0$")),
      make(spec(labeldrop, {}, "__tmp_hash")),
  };
  labels in = {{"__address__", "10.132.183.40:80"},
               {"__meta_kubernetes_namespace", "loki-boltdb-shipper"},
               {"__meta_kubernetes_pod_annotation_promtail_loki_boltdb_shipper_hash",
                "50523b9759094a144adcec2eae0aa4ad"},
               {"__meta_kubernetes_pod_annotationpresent_promtail_loki_boltdb_shipper_hash", "true"},
               {"__meta_kubernetes_pod_container_init", "false"},
               {"__meta_kubernetes_pod_container_name", "promtail"},
               {"__meta_kubernetes_pod_container_port_name", "http-metrics"},
               {"__meta_kubernetes_pod_container_port_number", "80"},
               {"__meta_kubernetes_pod_container_port_protocol", "TCP"},
               {"__meta_kubernetes_pod_controller_kind", "DaemonSet"},
               {"__meta_kubernetes_pod_controller_name", "promtail-loki-boltdb-shipper"},
               {"__meta_kubernetes_pod_host_ip", "10.128.0.178"},
               {"__meta_kubernetes_pod_ip", "10.132.183.40"},
               {"__meta_kubernetes_pod_label_controller_revision_hash", "555b77cd7d"},
               {"__meta_kubernetes_pod_label_name", "promtail-loki-boltdb-shipper"},
               {"__meta_kubernetes_pod_label_pod_template_generation", "45"},
               {"__meta_kubernetes_pod_labelpresent_controller_revision_hash", "true"},
               {"__meta_kubernetes_pod_labelpresent_name", "true"},
               {"__meta_kubernetes_pod_labelpresent_pod_template_generation", "true"},
               {"__meta_kubernetes_pod_name", "promtail-loki-boltdb-shipper-jgtr7"},
               {"__meta_kubernetes_pod_node_name", "gke-dev-us-central-0-main-n2s8-2-14d53341-9hkr"},
               {"__meta_kubernetes_pod_phase", "Running"},
               {"__meta_kubernetes_pod_ready", "true"},
               {"__meta_kubernetes_pod_uid", "4c586419-7f6c-448d-aeec-ca4fa5b05e60"},
               {"__metrics_path__", "/metrics"},
               {"__scheme__", "http"},
               {"__scrape_interval__", "15s"},
               {"__scrape_timeout__", "10s"},
               {"job", "kubernetes-pods"}};
  sort_labels(in);
  labels ls;
  for (auto _ : state) {
    ls = in;
    bool kept = process(ls, rules);
    benchmark::DoNotOptimize(kept);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_kubernetes);

}  // namespace

BENCHMARK_MAIN();
