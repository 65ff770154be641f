// One scrape as the scraper runs it, on one core: a node_exporter-like page of ~1000 series through
// scrape_cache::append_page (target labels, metric_relabel_configs), the synthetic series, then what the
// sender does: each sample made a wire record with the external labels (record_builder) and queued
// (write_queue, 4 shards), every batch taken (the default 500 per send) and snappy-compressed. items/s is
// samples per second. Run pinned:
//   taskset -c 0 build/<dir>/bench/scrape_pipeline_bench
// steady: a target's second and later scrapes (same series: every sample's labels are the last page's,
// reused). first: a new target each time (every label set built from the page, and kept compressed once
// more). churn: a steady target where 1 series in 20 is new on each scrape (its bytes the last page did not
// have) and the one it replaces goes stale.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "scraper/queue.hpp"
#include "scraper/relabel.hpp"
#include "scraper/remote_write.hpp"
#include "scraper/scrape_cache.hpp"

namespace sigv4::scraper {
namespace {

constexpr std::size_t samples_per_send = 500;  // queue_config max_samples_per_send, Prometheus 2.42's default

// node_exporter 1.x on a 64-CPU host with a few disks and NICs: per-CPU counters dominate, then filesystems,
// network devices, disk histograms, the Go runtime, plain gauges; HELP and TYPE before every family.
std::string node_exporter_page() {
  std::string p;
  auto family = [&](const std::string& name, const char* type, const char* help) {
    p += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto value = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  for (int cpu = 0; cpu < 64; ++cpu) {
    for (const char* m : modes) {
      p += "node_cpu_seconds_total{cpu=\"" + std::to_string(cpu) + "\",mode=\"" + m + "\"} " +
           value(123456.78 + cpu * 17.25) + "\n";
    }
  }
  const char* fs[] = {"node_filesystem_avail_bytes", "node_filesystem_free_bytes",
                      "node_filesystem_size_bytes",  "node_filesystem_files",
                      "node_filesystem_files_free",  "node_filesystem_readonly"};
  for (const char* m : fs) {
    family(m, "gauge", "Filesystem statistic.");
    for (int d = 0; d < 16; ++d) {
      p += std::string(m) + "{device=\"/dev/nvme0n1p" + std::to_string(d) +
           "\",fstype=\"ext4\",mountpoint=\"/mnt/disk" + std::to_string(d) + "\"} " +
           value(1.0e11 + d * 4096) + "\n";
    }
  }
  const char* net[] = {"node_network_receive_bytes_total",   "node_network_transmit_bytes_total",
                       "node_network_receive_packets_total", "node_network_transmit_packets_total",
                       "node_network_receive_errs_total",    "node_network_transmit_errs_total",
                       "node_network_receive_drop_total",    "node_network_transmit_drop_total"};
  for (const char* m : net) {
    family(m, "counter", "Network device statistic.");
    for (int d = 0; d < 16; ++d) {
      p += std::string(m) + "{device=\"eth" + std::to_string(d) + "\"} " + value(9.87654321e9 + d) + "\n";
    }
  }
  family("node_disk_io_time_seconds", "histogram", "Disk IO time.");
  for (int d = 0; d < 8; ++d) {
    const std::string dev = "nvme" + std::to_string(d) + "n1";
    for (const char* le :
         {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
      p += "node_disk_io_time_seconds_bucket{device=\"" + dev + "\",le=\"" + le + "\"} 8412\n";
    }
    p += "node_disk_io_time_seconds_sum{device=\"" + dev + "\"} 1234.5\n";
    p += "node_disk_io_time_seconds_count{device=\"" + dev + "\"} 8412\n";
  }
  family("go_gc_duration_seconds", "summary",
         "A summary of the pause duration of garbage collection cycles.");
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    p += std::string("go_gc_duration_seconds{quantile=\"") + q + "\"} 4.2219e-05\n";
  }
  p += "go_gc_duration_seconds_sum 0.138262171\ngo_gc_duration_seconds_count 2311\n";
  for (int c = 0; c < 20; ++c) {
    family("node_scrape_collector_duration_seconds", "gauge", "Duration of a collector scrape.");
    p += "node_scrape_collector_duration_seconds{collector=\"c" + std::to_string(c) + "\"} 0.000123\n";
  }
  for (int g = 0; g < 120; ++g) {
    const std::string name = "node_memory_Item" + std::to_string(g) + "_bytes";
    family(name, "gauge", "Memory information field.");
    p += name + " " + value(8.123e9 + g) + "\n";
  }
  return p;
}

relabel_rule rule(relabel_spec spec) {
  auto r = compile(spec);
  if (auto* err = std::get_if<std::string>(&r)) {
    std::fprintf(stderr, "relabel rule: %s\n", err->c_str());
    std::abort();
  }
  return std::get<relabel_rule>(std::move(r));
}

// What users commonly write: drop a noisy family, drop the Go runtime, turn a device path into a short label,
// drop a label nobody queries.
relabel_rules metric_relabel() {
  auto on = [](std::vector<std::string> sources, std::string regex, relabel_action action) {
    relabel_spec s;
    s.source_labels = std::move(sources);
    s.source_labels_set = !s.source_labels.empty();
    s.regex = std::move(regex);
    s.regex_set = true;
    s.action = action;
    return s;
  };
  relabel_spec disk = on({"device"}, "/dev/(.+)", relabel_action::replace);
  disk.target_label = "disk";
  return {rule(on({"__name__"}, "node_scrape_collector_.*", relabel_action::drop)),
          rule(on({"__name__"}, "go_.*", relabel_action::drop)), rule(disk),
          rule(on({}, "fstype", relabel_action::labeldrop))};
}

// append_result::reused, where the tree has it (this file also builds against trees from before it).
template <class R>
std::size_t reused_of(const R& r) {
  if constexpr (requires { r.reused; }) {
    return r.reused;
  } else {
    return 0;
  }
}

struct fixture {
  std::string page = node_exporter_page();
  labels target = {{"instance", "ip-10-0-12-34.eu-west-1.compute.internal:9100"}, {"job", "node"}};
  labels external = {{"cluster", "prod-eu-west-1"}, {"replica", "sidecar-0"}};
  relabel_rules rules = metric_relabel();
  sample_context ctx = [this] {
    sample_context c;
    c.target_labels = &target;
    c.metric_relabel = &rules;
    return c;
  }();
  sample_batch batch;
  record_builder records{external, {}};
  write_queue queue{[] {
                      queue_settings q;
                      q.min_shards = 4;
                      return q;
                    }(),
                    1};
  std::string record, body;
  std::size_t body_bytes = 0;
  std::size_t raw_bytes = 0;
  std::size_t page_samples = 0;

  // The sender's part: records into the queue, then every batch out and compressed.
  void send() {
    for (const auto& e : batch.entries()) {
      record.clear();
      records.build(batch.flat_labels(e), e.t_ms, e.v, record);
      queue.add(e.hash, e.t_ms, record);
    }
    const time_point now{};
    queue.commit(now);
    body_bytes = raw_bytes = 0;
    for (std::size_t sh = 0; sh < queue.shards(); ++sh) {
      while (auto b = queue.take_batch(sh, now, take_mode::flush)) {
        compress(b->body, body);
        body_bytes += body.size();
        raw_bytes += b->body.size();
        queue.complete(sh, b->id, outcome{}, now);
      }
    }
  }

  std::size_t reused = 0;

  // One scrape_done(): page, synthetic series, then the sender.
  std::size_t scrape(scrape_cache& cache, std::int64_t now_ms) { return scrape(cache, now_ms, page); }
  std::size_t scrape(scrape_cache& cache, std::int64_t now_ms, const std::string& page) {
    batch.clear();
    auto r = cache.append_page(page, "text/plain; version=0.0.4", now_ms, ctx, batch);
    reused = reused_of(r);
    if (!r.error.empty()) {
      std::fprintf(stderr, "append_page: %s\n", r.error.c_str());
      std::abort();
    }
    page_samples = r.total;
    cache.append_report({.up = true, .duration_seconds = 0.01, .page = r}, now_ms, target, batch);
    send();
    return batch.size();
  }
};

// items: the samples on the page (what a scrape reads); written: what goes to remote write (after the drop
// rules, plus the 5 synthetic series).
void report(benchmark::State& state, const fixture& f, std::size_t written) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(f.page_samples));
  state.counters["page_samples"] = static_cast<double>(f.page_samples);
  state.counters["written"] = static_cast<double>(written);
  state.counters["page_bytes"] = static_cast<double>(f.page.size());
  state.counters["raw_bytes"] = static_cast<double>(f.raw_bytes);
  state.counters["snappy_bytes"] = static_cast<double>(f.body_bytes);
  state.counters["reused"] = static_cast<double>(f.reused);
}

void pipeline_steady(benchmark::State& state) {
  fixture f;
  scrape_cache cache;
  std::int64_t now = 1'700'000'000'000;
  std::size_t n = f.scrape(cache, now);  // the first scrape of the target
  for (auto _ : state) {
    now += 15'000;
    n = f.scrape(cache, now);
    benchmark::DoNotOptimize(f.body.data());
  }
  report(state, f, n);
}

void pipeline_first(benchmark::State& state) {
  fixture f;
  std::int64_t now = 1'700'000'000'000;
  std::size_t n = 0;
  for (auto _ : state) {
    scrape_cache cache;
    n = f.scrape(cache, now += 15'000);
    benchmark::DoNotOptimize(f.body.data());
    state.PauseTiming();  // the cache's teardown is not part of a scrape
    { scrape_cache gone = std::move(cache); }
    state.ResumeTiming();
  }
  report(state, f, n);
}

void pipeline_churn(benchmark::State& state) {
  fixture f;
  scrape_cache cache;
  std::int64_t now = 1'700'000'000'000;
  // Variants of the page where every 20th sample line gets a label value of its own scrape.
  std::vector<std::string> pages;
  for (int v = 0; v < 8; ++v) {
    std::string p;
    std::size_t line = 0;
    for (std::size_t at = 0; at < f.page.size();) {
      const std::size_t nl = f.page.find('\n', at);
      std::string l = f.page.substr(at, nl - at + 1);
      at = nl + 1;
      const std::size_t brace = l.find('{');
      if (l[0] != '#' && brace != std::string::npos && line++ % 20 == 0) {
        l.insert(brace + 1, "scrape=\"" + std::to_string(v) + "\",");
      }
      p += l;
    }
    pages.push_back(std::move(p));
  }
  std::size_t n = f.scrape(cache, now, pages[0]);
  std::size_t i = 0;
  for (auto _ : state) {
    n = f.scrape(cache, now += 15'000, pages[++i % pages.size()]);
    benchmark::DoNotOptimize(f.body.data());
  }
  report(state, f, n);
}

// The two halves of the steady pipeline, to see where its time goes.
void append_only(benchmark::State& state) {
  fixture f;
  scrape_cache cache;
  std::int64_t now = 1'700'000'000'000;
  f.scrape(cache, now);
  for (auto _ : state) {
    f.batch.clear();
    auto r = cache.append_page(f.page, "text/plain; version=0.0.4", now += 15'000, f.ctx, f.batch);
    cache.append_report({.up = true, .duration_seconds = 0.01, .page = r}, now, f.target, f.batch);
    benchmark::DoNotOptimize(f.batch.entries().data());
  }
  report(state, f, f.batch.size());
}

void send_only(benchmark::State& state) {
  fixture f;
  scrape_cache cache;
  f.scrape(cache, 1'700'000'000'000);
  for (auto _ : state) {
    f.send();
    benchmark::DoNotOptimize(f.body.data());
  }
  report(state, f, f.batch.size());
}

// Not a speed: the heap a target's cache holds between scrapes, per series (what 1000 targets x 1000 series
// cost in RSS), from malloc's own count.
void cache_memory(benchmark::State& state) {
  constexpr std::size_t targets = 10;
  fixture f;
  scrape_cache one;
  f.scrape(one, 1'700'000'000'000);  // the shared buffers (batch, queue, scratch) grow here, not below
  std::size_t held = 0;
  for (auto _ : state) {
    const auto before = mallinfo2().uordblks;
    {
      std::vector<scrape_cache> caches(targets);
      for (auto& c : caches) f.scrape(c, 1'700'000'000'000);
      held = mallinfo2().uordblks - before;
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  const std::size_t n = one.series_count() * targets;
  state.counters["heap_bytes_per_series"] = static_cast<double>(held) / static_cast<double>(n);
  state.counters["series"] = static_cast<double>(n);
}

BENCHMARK(pipeline_steady);
BENCHMARK(pipeline_first);
BENCHMARK(pipeline_churn);
BENCHMARK(append_only);
BENCHMARK(send_only);
BENCHMARK(cache_memory)->Iterations(3);
}  // namespace
}  // namespace sigv4::scraper

BENCHMARK_MAIN();
