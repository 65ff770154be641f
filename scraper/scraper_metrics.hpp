#pragma once
#include "obs/metrics.hpp"

namespace sigv4::scraper {

// Every metric the scraper exports, registered once. Label values are job names, remote names, URLs from the
// config and fixed reasons: never text a target controls.
struct scraper_metrics {
  explicit scraper_metrics(obs::registry& r)
      : scrapes(r.counters("sigv4_sidecar_scrapes_total", "Scrapes, by job and result (success or failure).",
                           {"job", "result"})),
        scrape_failures(
            r.counters("sigv4_sidecar_scrape_failures_total",
                       "Failed scrapes, by job and reason (dns, connect, tls, timeout, http_status, "
                       "body_size_limit, gzip, parse, sample_limit, label_limit, credentials, other).",
                       {"job", "reason"})),
        scrape_samples(r.counters("sigv4_sidecar_scrape_samples_total",
                                  "Samples appended after metric relabeling (synthetic series not included).",
                                  {"job"})),
        scrape_duplicates(r.counters("sigv4_sidecar_scrape_duplicate_samples_total",
                                     "Samples dropped because their series repeated on the same page.",
                                     {"job"})),
        scrape_duration(r.histograms("sigv4_sidecar_scrape_duration_seconds",
                                     "Scrape time, request to appended.", {"job"}, obs::latency_buckets())),
        targets(r.gauges("sigv4_sidecar_scrape_targets", "Active targets, by job and health.",
                         {"job", "health"})),
        samples_total(r.counters("prometheus_remote_storage_samples_total",
                                 "Samples in send attempts to the remote storage (retries included).",
                                 {"remote_name", "url"})),
        samples_sent(r.counters("sigv4_sidecar_remote_samples_sent_total",
                                "Samples the remote storage acknowledged.", {"remote_name", "url"})),
        samples_retried(r.counters("prometheus_remote_storage_samples_retried_total",
                                   "Samples whose send failed recoverably and were retried.",
                                   {"remote_name", "url"})),
        samples_failed(r.counters("prometheus_remote_storage_samples_failed_total",
                                  "Samples whose send failed for good (non-retryable answer), by reason.",
                                  {"remote_name", "url", "reason"})),
        samples_dropped(r.counters("prometheus_remote_storage_samples_dropped_total",
                                   "Samples dropped before any send (queue full), by reason.",
                                   {"remote_name", "url", "reason"})),
        samples_pending(r.gauges("prometheus_remote_storage_samples_pending", "Samples queued or in flight.",
                                 {"remote_name", "url"})),
        highest_sent(r.gauges("prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                              "Timestamp of the newest sample the remote storage acknowledged.",
                              {"remote_name", "url"})),
        shards(r.gauges("prometheus_remote_storage_shards", "Shards sending in parallel.",
                        {"remote_name", "url"})),
        sent_batch_duration(r.histograms("prometheus_remote_storage_sent_batch_duration_seconds",
                                         "Time of one remote-write request.", {"remote_name", "url"},
                                         obs::latency_buckets())),
        bytes_sent(r.counters("prometheus_remote_storage_bytes_total",
                              "Compressed request bytes sent (retries included).", {"remote_name", "url"})),
        send_errors(
            r.counters("sigv4_sidecar_remote_send_errors_total",
                       "Failed remote-write requests, by kind (network, http_5xx, http_429, http_4xx, "
                       "credentials).",
                       {"remote_name", "url", "kind"})) {}

  obs::counter_family& scrapes;
  obs::counter_family& scrape_failures;
  obs::counter_family& scrape_samples;
  obs::counter_family& scrape_duplicates;
  obs::histogram_family& scrape_duration;
  obs::gauge_family& targets;
  obs::counter_family& samples_total;
  obs::counter_family& samples_sent;
  obs::counter_family& samples_retried;
  obs::counter_family& samples_failed;
  obs::counter_family& samples_dropped;
  obs::gauge_family& samples_pending;
  obs::gauge_family& highest_sent;
  obs::gauge_family& shards;
  obs::histogram_family& sent_batch_duration;
  obs::counter_family& bytes_sent;
  obs::counter_family& send_errors;
};

}  // namespace sigv4::scraper
