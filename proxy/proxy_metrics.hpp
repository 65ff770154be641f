#pragma once
#include "obs/metrics.hpp"

namespace sigv4::app {

// Every metric the proxy exports, registered once. Label values are route names, upstream keys, status
// codes and fixed kinds: never anything a client controls.
struct proxy_metrics {
  static obs::counter_family& unit(obs::counter_family& f, double u) {
    f.set_unit(u);
    return f;
  }

  explicit proxy_metrics(obs::registry& r)
      : requests(r.counters("sigv4_sidecar_requests_total", "Requests answered, by route and status code.",
                            {"route", "code"})),
        request_duration(r.histograms("sigv4_sidecar_request_duration_seconds",
                                      "Time from the request header to the end of the response.", {"route"},
                                      obs::latency_buckets())),
        upstream_duration(r.histograms("sigv4_sidecar_upstream_duration_seconds",
                                       "Time from sending upstream to the upstream response header.", {"route"},
                                       obs::latency_buckets())),
        bytes_in(r.counters("sigv4_sidecar_request_body_bytes_total", "Request body bytes received.", {"route"})),
        bytes_out(r.counters("sigv4_sidecar_response_body_bytes_total", "Response body bytes relayed.",
                             {"route"})),
        signing_errors(r.counters("sigv4_sidecar_signing_errors_total",
                                  "Requests that could not be signed, by reason.", {"route", "reason"})),
        signature_mismatches(r.counters("sigv4_sidecar_upstream_signature_mismatch_total",
                                        "Upstream 403 answers saying the signature does not match.", {"route"})),
        pool_connections(r.gauges("sigv4_sidecar_upstream_connections",
                                  "Upstream connections, by upstream and state (open includes idle).",
                                  {"upstream", "state"})),
        upstream_errors(r.counters("sigv4_sidecar_upstream_errors_total", "Upstream failures, by kind.",
                                   {"upstream", "kind"})),
        upstream_retries(r.counters("sigv4_sidecar_upstream_retries_total",
                                    "Requests retried on a fresh connection after a reused one failed.",
                                    {"upstream"})),
        client_errors(r.counters("sigv4_sidecar_client_errors_total",
                                 "Requests refused before routing (malformed, too large, timeouts).", {"kind"})),
        lingering_closes(r.counters("sigv4_sidecar_client_lingering_closes_total",
                                    "Client connections closed after an early error by reading and discarding "
                                    "what the client still sent (so that it can read the answer), by where.",
                                    {"where"})),
        connections(r.gauges("sigv4_sidecar_client_connections", "Open client connections.")),
        busy_poll_seconds(unit(r.counters("sigv4_sidecar_busy_poll_seconds_total",
                                          "CPU time idle workers spent polling before they slept.", {"worker"}),
                               1e-9)),
        busy_poll_wakeups(r.counters("sigv4_sidecar_busy_poll_wakeups_total",
                                     "Idle gaps of the workers, by how they ended: caught while polling (a sleep "
                                     "and a wake-up saved) or slept.",
                                     {"worker", "outcome"})),
        build_info(r.gauges("sigv4_sidecar_build_info", "Build information.", {"version"})) {}

  obs::counter_family& requests;
  obs::histogram_family& request_duration;
  obs::histogram_family& upstream_duration;
  obs::counter_family& bytes_in;
  obs::counter_family& bytes_out;
  obs::counter_family& signing_errors;
  obs::counter_family& signature_mismatches;
  obs::gauge_family& pool_connections;
  obs::counter_family& upstream_errors;
  obs::counter_family& upstream_retries;
  obs::counter_family& client_errors;
  obs::counter_family& lingering_closes;
  obs::gauge_family& connections;
  obs::counter_family& busy_poll_seconds;
  obs::counter_family& busy_poll_wakeups;
  obs::gauge_family& build_info;
};

}  // namespace sigv4::app
