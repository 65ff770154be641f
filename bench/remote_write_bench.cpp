// Remote-write encode + compress (hand-written vs protoc lite, same run) and the queue's append + take.
// A batch is 2000 samples of 2000 node_exporter-like series (10 labels each), 2 external labels.
#include <benchmark/benchmark.h>
#include <snappy.h>

#include <string>
#include <vector>

#include "scraper/queue.hpp"
#include "scraper/remote_write.hpp"

namespace sigv4::scraper {
namespace {

std::vector<series_ptr> node_series(std::size_t n) {
  std::vector<series_ptr> out;
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
    auto s = std::make_shared<series>();
    s->hash = hash(ls);
    s->lbls = std::move(ls);
    s->id = i;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<sample> scrape(const std::vector<series_ptr>& all, std::int64_t t) {
  std::vector<sample> out;
  out.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) out.push_back({all[i], t, 12345.678 + static_cast<double>(i)});
  return out;
}

const labels external = {{"cluster", "prod-eu-west-1"}, {"replica", "sidecar-0"}};

template <class Encoder>
void encode(benchmark::State& state) {
  const auto all = node_series(2000);
  const auto batch = scrape(all, 1'700'000'000'000);
  Encoder enc;
  std::string body;
  for (auto _ : state) {
    enc.encode(batch, external, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
  state.counters["raw_bytes"] = static_cast<double>(enc.last_uncompressed().size());
  state.counters["snappy_bytes"] = static_cast<double>(body.size());
}

void BM_encode_hand(benchmark::State& state) {
  encode<write_request_encoder>(state);
}
void BM_encode_protoc(benchmark::State& state) {
  encode<protoc_write_request_encoder>(state);
}
BENCHMARK(BM_encode_hand);
BENCHMARK(BM_encode_protoc);

// The compression alone, to split the figures above into serialization and snappy.
void BM_snappy_only(benchmark::State& state) {
  const auto all = node_series(2000);
  const auto batch = scrape(all, 1'700'000'000'000);
  write_request_encoder enc;
  std::string body;
  enc.encode(batch, external, body);
  const std::string raw(enc.last_uncompressed());
  for (auto _ : state) {
    body.resize(snappy::MaxCompressedLength(raw.size()));
    std::size_t n = 0;
    snappy::RawCompress(raw.data(), raw.size(), body.data(), &n);
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK(BM_snappy_only);

// One scrape appended, then every batch taken and acknowledged; the vector is built inside the loop, as the
// scrape loop builds it (shared_ptr copies included).
void BM_queue_append_take(benchmark::State& state) {
  const auto all = node_series(2000);
  queue_settings qs;
  qs.min_shards = static_cast<std::size_t>(state.range(0));
  write_queue q(qs, 1);
  const time_point now{};
  std::int64_t t = 0;
  for (auto _ : state) {
    q.append(scrape(all, t++), now);
    for (std::size_t sh = 0; sh < q.shards(); ++sh) {
      while (auto b = q.take_batch(sh, now, take_mode::flush)) q.complete(sh, b->id, outcome{}, now);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(all.size()));
  if (q.stats().samples_sent != q.stats().samples_in) state.SkipWithError("samples lost");
}
BENCHMARK(BM_queue_append_take)->Arg(1)->Arg(4);

}  // namespace
}  // namespace sigv4::scraper

BENCHMARK_MAIN();
