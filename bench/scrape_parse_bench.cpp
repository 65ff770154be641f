// Scrape-parser throughput on a node_exporter-like page. Run on one core:
//   taskset -c 0 build/<dir>/bench/scrape_parse_bench
// items/s is samples per second.
#include <benchmark/benchmark.h>

#include <string>

#include "scraper/textparse.hpp"

namespace {

using sigv4::scraper::entry;
using sigv4::scraper::format;
using sigv4::scraper::parser;

// What node_exporter 1.x serves on a small VM, in its proportions: per-CPU counters, filesystems, network
// devices, a Go runtime summary, a histogram, plain gauges; HELP and TYPE before every family.
std::string node_exporter_page(bool openmetrics) {
  std::string p;
  auto family = [&](const std::string& name, const char* type, const char* help) {
    p += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  const char* ctr = "counter";
  family("node_cpu_seconds_total", ctr, "Seconds the CPUs spent in each mode.");
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  for (int cpu = 0; cpu < 16; ++cpu) {
    for (const char* m : modes) {
      p += "node_cpu_seconds_total{cpu=\"" + std::to_string(cpu) + "\",mode=\"" + m + "\"} " +
           std::to_string(123456.78 + cpu * 17.25) + "\n";
    }
  }
  const char* fs_metrics[] = {"node_filesystem_avail_bytes", "node_filesystem_free_bytes",
                              "node_filesystem_size_bytes", "node_filesystem_files",
                              "node_filesystem_readonly"};
  for (const char* m : fs_metrics) {
    family(m, "gauge", "Filesystem space available to non-root users in bytes.");
    for (int d = 0; d < 12; ++d) {
      p += std::string(m) + "{device=\"/dev/nvme0n1p" + std::to_string(d) +
           "\",fstype=\"ext4\",mountpoint=\"/mnt/disk" + std::to_string(d) + "\"} " +
           std::to_string(1.0e11 + d * 4096) + "\n";
    }
  }
  const char* net[] = {"node_network_receive_bytes_total",   "node_network_transmit_bytes_total",
                       "node_network_receive_packets_total", "node_network_transmit_packets_total",
                       "node_network_receive_errs_total",    "node_network_receive_drop_total"};
  for (const char* m : net) {
    family(m, ctr, "Network device statistic.");
    for (int d = 0; d < 8; ++d) {
      p += std::string(m) + "{device=\"eth" + std::to_string(d) + "\"} " + std::to_string(9.87654321e9 + d) +
           "\n";
    }
  }
  family("go_gc_duration_seconds", "summary",
         "A summary of the pause duration of garbage collection cycles.");
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    p += std::string("go_gc_duration_seconds{quantile=\"") + q + "\"} 4.2219e-05\n";
  }
  p += "go_gc_duration_seconds_sum 0.138262171\ngo_gc_duration_seconds_count 2311\n";
  family("node_disk_io_time_seconds", "histogram", "Disk IO time.");
  for (const char* le :
       {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    p += std::string("node_disk_io_time_seconds_bucket{device=\"nvme0n1\",le=\"") + le + "\"} 8412\n";
  }
  p += "node_disk_io_time_seconds_sum{device=\"nvme0n1\"} 1234.5\n";
  p += "node_disk_io_time_seconds_count{device=\"nvme0n1\"} 8412\n";
  for (int g = 0; g < 40; ++g) {
    std::string name = "node_memory_Item" + std::to_string(g) + "_bytes";
    family(name, "gauge", "Memory information field.");
    p += name + " " + std::to_string(8.123e9 + g) + "\n";
  }
  if (openmetrics) p += "# EOF\n";
  return p;
}

std::size_t count_samples(const std::string& page, format f) {
  parser p(page, f);
  std::size_t n = 0;
  for (entry e; (e = p.next()) != entry::eof;) {
    if (e == entry::invalid) std::abort();
    n += e == entry::sample;
  }
  return n;
}

// The scrape loop's common case: every series is in its cache, so it needs the bytes, value and time.
void parse(benchmark::State& state, format f) {
  const std::string page = node_exporter_page(f == format::openmetrics);
  const std::size_t samples = count_samples(page, f);
  for (auto _ : state) {
    parser p(page, f);
    double sum = 0;
    std::size_t bytes = 0;
    for (entry e; (e = p.next()) != entry::eof;) {
      if (e == entry::sample) {
        bytes += p.series().size();
        sum += p.value();
        benchmark::DoNotOptimize(p.timestamp_ms());
      }
    }
    benchmark::DoNotOptimize(sum);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page.size()));
  state.counters["samples_per_page"] = static_cast<double>(samples);
}

// The first scrape of a target (or a cache miss per sample): labels decoded for every sample.
void parse_with_labels(benchmark::State& state, format f) {
  const std::string page = node_exporter_page(f == format::openmetrics);
  const std::size_t samples = count_samples(page, f);
  sigv4::scraper::labels ls;
  for (auto _ : state) {
    parser p(page, f);
    for (entry e; (e = p.next()) != entry::eof;) {
      if (e == entry::sample) {
        p.labels(ls);
        benchmark::DoNotOptimize(ls.data());
      }
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page.size()));
}

BENCHMARK_CAPTURE(parse, text, format::text);
BENCHMARK_CAPTURE(parse, openmetrics, format::openmetrics);
BENCHMARK_CAPTURE(parse_with_labels, text, format::text);
BENCHMARK_CAPTURE(parse_with_labels, openmetrics, format::openmetrics);

}  // namespace

BENCHMARK_MAIN();
