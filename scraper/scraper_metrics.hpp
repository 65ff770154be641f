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
        shards_desired(r.gauges("prometheus_remote_storage_shards_desired",
                                "Shards the dynamic sharding computed, before rounding and bounds.",
                                {"remote_name", "url"})),
        shards_min(r.gauges("prometheus_remote_storage_shards_min", "queue_config.min_shards.",
                            {"remote_name", "url"})),
        shards_max(r.gauges("prometheus_remote_storage_shards_max", "queue_config.max_shards.",
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
                       {"remote_name", "url", "kind"})),
        samples_in(r.counters("prometheus_remote_storage_samples_in_total",
                              "Samples given to the remote's queue (read back from the spool, or appended).",
                              {"remote_name", "url"})),
        replayed(r.counters("sigv4_sidecar_remote_replayed_samples_total",
                            "Samples read back from the spool that were spooled before this start.",
                            {"remote_name", "url"})),
        spool_lag(r.gauges("sigv4_sidecar_spool_lag_bytes",
                           "Spooled bytes this remote has not had acknowledged yet.", {"remote_name", "url"})),
        spool_bytes(r.gauges("sigv4_sidecar_spool_bytes", "Size of the spool's segment files.", {"instance"})),
        spool_segments(r.gauges("sigv4_sidecar_spool_segments", "Segment files in the spool.", {"instance"})),
        spool_appended(r.counters("sigv4_sidecar_spool_appended_samples_total", "Samples written to the spool.",
                                  {"instance"})),
        spool_corrupt(r.counters("sigv4_sidecar_spool_corrupt_records_total",
                                 "Damaged spool records skipped (their samples are lost).", {"instance"})),
        spool_torn(r.counters("sigv4_sidecar_spool_torn_tails_total",
                              "Incomplete last records cut off at start (a power cut or a full disk).",
                              {"instance"})),
        spool_dropped(r.counters("sigv4_sidecar_spool_dropped_records_total",
                                 "Spool records dropped unsent, by reason (max_bytes, max_age).",
                                 {"instance", "reason"})),
        spool_errors(r.counters("sigv4_sidecar_spool_write_errors_total",
                                "Failed spool writes and syncs, by kind (disk_full, io_error, too_large); the "
                                "samples then wait in memory.",
                                {"instance", "kind"})) {}

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
  obs::gauge_family& shards_desired;
  obs::gauge_family& shards_min;
  obs::gauge_family& shards_max;
  obs::histogram_family& sent_batch_duration;
  obs::counter_family& bytes_sent;
  obs::counter_family& send_errors;
  obs::counter_family& samples_in;
  obs::counter_family& replayed;
  obs::gauge_family& spool_lag;
  obs::gauge_family& spool_bytes;
  obs::gauge_family& spool_segments;
  obs::counter_family& spool_appended;
  obs::counter_family& spool_corrupt;
  obs::counter_family& spool_torn;
  obs::counter_family& spool_dropped;
  obs::counter_family& spool_errors;
};

}  // namespace sigv4::scraper
