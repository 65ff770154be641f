// Remote-write bodies: the hand-written wire records (record_builder: external labels merged, one TimeSeries
// per sample) vs protoc lite's classes for the same samples, both then snappy-compressed, same run; and the
// queue's add + take. A batch is 2000 samples of 2000 node_exporter-like series (10 labels each), 2 external
// labels.
#include <benchmark/benchmark.h>
#include <snappy.h>

#include <string>
#include <vector>

#include "remote.pb.h"
#include "scraper/queue.hpp"
#include "scraper/remote_write.hpp"

namespace sigv4::scraper {
namespace {

// One scrape of n series, as the scrape loop hands it on.
sample_batch node_scrape(std::size_t n, std::int64_t t) {
  sample_batch b;
  label_views vs;
  for (std::size_t i = 0; i < n; ++i) {
    labels ls = {
        {"__name__", "node_cpu_seconds_total"},
        {"cpu", std::to_string(i % 64)},
        {"device", std::string("nvme0n1p").append(std::to_string(i % 8))},
        {"fstype", "ext4"},
        {"instance", std::string("ip-10-0-").append(std::to_string(i / 500)).append(".ec2.internal:9100")},
        {"job", "node-exporter"},
        {"mode", i % 2 ? "user" : "system"},
        {"mountpoint", "/var/lib/kubelet"},
        {"namespace", "monitoring"},
        {"pod", std::string("node-exporter-").append(std::to_string(i))}};
    sort_labels(ls);
    to_views(ls, vs);
    b.add(vs, t, 12345.678 + static_cast<double>(i));
  }
  return b;
}

const labels external = {{"cluster", "prod-eu-west-1"}, {"replica", "sidecar-0"}};

void BM_encode_hand(benchmark::State& state) {
  const auto batch = node_scrape(2000, 1'700'000'000'000);
  record_builder rb(external, {});
  std::string raw, body;
  for (auto _ : state) {
    raw.clear();
    for (const auto& e : batch.entries()) rb.build(batch.flat_labels(e), e.t_ms, e.v, raw);
    compress(raw, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
  state.counters["raw_bytes"] = static_cast<double>(raw.size());
  state.counters["snappy_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_encode_hand);

// protoc's classes from the same label views (external labels merged the same way), the message reused so
// its repeated fields keep their allocations.
void BM_encode_protoc(benchmark::State& state) {
  const auto batch = node_scrape(2000, 1'700'000'000'000);
  prometheus::WriteRequest req;
  label_views own;
  std::string raw, body;
  for (auto _ : state) {
    req.Clear();
    for (const auto& e : batch.entries()) {
      read_flat(batch.flat_labels(e), own);
      auto* ts = req.add_timeseries();
      std::size_t i = 0, j = 0;
      auto put = [&](const label_view& l) {
        auto* pl = ts->add_labels();
        pl->set_name(l.name.data(), l.name.size());
        pl->set_value(l.value.data(), l.value.size());
      };
      while (i < own.size() || j < external.size()) {
        if (j == external.size() || (i < own.size() && own[i].name < external[j].name)) {
          put(own[i++]);
        } else if (i == own.size() || external[j].name < own[i].name) {
          put({external[j].name, external[j].value});
          ++j;
        } else {
          put(own[i++]);
          ++j;
        }
      }
      auto* ps = ts->add_samples();
      ps->set_value(e.v);
      ps->set_timestamp(e.t_ms);
    }
    req.SerializeToString(&raw);
    compress(raw, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
  state.counters["raw_bytes"] = static_cast<double>(raw.size());
  state.counters["snappy_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_encode_protoc);

// The compression alone, to split the figures above into serialization and snappy.
void BM_snappy_only(benchmark::State& state) {
  const auto batch = node_scrape(2000, 1'700'000'000'000);
  record_builder rb(external, {});
  std::string raw, body;
  for (const auto& e : batch.entries()) rb.build(batch.flat_labels(e), e.t_ms, e.v, raw);
  for (auto _ : state) {
    compress(raw, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK(BM_snappy_only);

// One scrape's records added, then every batch taken and acknowledged.
void BM_queue_add_take(benchmark::State& state) {
  const auto batch = node_scrape(2000, 0);
  queue_settings qs;
  qs.min_shards = static_cast<std::size_t>(state.range(0));
  write_queue q(qs, 1);
  record_builder rb({}, {});
  std::string record;
  const time_point now{};
  for (auto _ : state) {
    for (const auto& e : batch.entries()) {
      record.clear();
      rb.build(batch.flat_labels(e), e.t_ms, e.v, record);
      q.add(e.hash, e.t_ms, record);
    }
    q.commit(now);
    for (std::size_t sh = 0; sh < q.shards(); ++sh) {
      while (auto b = q.take_batch(sh, now, take_mode::flush)) q.complete(sh, b->id, outcome{}, now);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
  if (q.stats().samples_sent != q.stats().samples_in) state.SkipWithError("samples lost");
}
BENCHMARK(BM_queue_add_take)->Arg(1)->Arg(4);

}  // namespace
}  // namespace sigv4::scraper

BENCHMARK_MAIN();
