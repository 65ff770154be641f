// The remote-write path through the durable spool on one core, as the sender runs it per scrape of 1,000
// series (node_exporter-like label sets, 6 labels, external labels added): encode the scrape into a spool
// record and append it (sync every 1 s of wall time, the group commit), read it back, decode it, build each
// sample's wire record (external labels merged), queue it, take 500-sample batches, snappy-compress them and
// complete them as delivered, committing the reader's position. Everything the sender does but the socket.
// Issue 9's aim: >= 300k samples/s sustained on one core. SPOOL_BENCH_DIR puts the spool elsewhere than /tmp.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/temp_dir.hpp"
#include "scraper/queue.hpp"
#include "scraper/remote_write.hpp"
#include "scraper/spool.hpp"
#include "scraper/spool_codec.hpp"

namespace sigv4::scraper {
namespace {

void scrape(sample_batch& b, std::int64_t t_ms, int target) {
  b.clear();
  static const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  const std::string instance = "10.0.0." + std::to_string(target % 250) + ":9100";
  for (int i = 0; i < 1000; ++i) {
    const std::string cpu = std::to_string(i / 8);
    const std::string dev = "nvme" + std::to_string(i % 4) + "n1";
    const label_view ls[] = {{"__name__", "node_cpu_seconds_total"},
                             {"cpu", cpu},
                             {"device", dev},
                             {"instance", instance},
                             {"job", "node"},
                             {"mode", modes[i % 8]}};
    b.add(ls, t_ms, 12345.67 + i + static_cast<double>(t_ms) / 1000.0);
  }
}

void through_spool(benchmark::State& state) {
  bench::temp_dir dir{"spool_path_bench"};
  spool::settings ss;
  ss.dir = dir.path;
  ss.readers = {"amp"};
  ss.max_age = std::chrono::milliseconds(0);
  spool::status st;
  auto store = spool::store::open(ss, st);
  if (!store) {
    state.SkipWithError(st.message.c_str());
    return;
  }
  const auto reader = store->open_reader("amp");
  queue_settings qs;
  qs.min_shards = 1;  // one core: the sender's shards are coroutines on one thread
  write_queue q(qs, 1);
  record_builder builder({{"cluster", "prod-eks-1"}, {"region", "us-east-1"}}, {});
  ack_tracker<spool::position> acks;
  sample_batch in, decoded;
  std::string scratch, payload, record, body;
  std::vector<spool::record> read;
  std::int64_t t = 1'700'000'000'000;
  std::uint64_t samples = 0, compressed = 0, spooled = 0;
  auto last_sync = std::chrono::steady_clock::now();
  const time_point now{};
  int target = 0;
  for (auto _ : state) {
    scrape(in, t, target++);
    t += 15;
    const std::int64_t newest = encode_spool_record(in, scratch, payload);
    spooled += payload.size();
    if (!store->append(payload, newest, spool_record_samples).ok()) std::abort();
    if (std::chrono::steady_clock::now() - last_sync >= std::chrono::seconds(1)) {
      if (!store->sync().ok()) std::abort();
      last_sync = std::chrono::steady_clock::now();
    }
    if (!store->read(reader, 8, 4 << 20, read).ok()) std::abort();
    for (const auto& rec : read) {
      decoded.clear();
      if (!decode_spool_record(rec.payload, scratch, decoded)) std::abort();
      const auto o = acks.add(rec.end, decoded.size());
      for (const auto& e : decoded.entries()) {
        record.clear();
        builder.build(decoded.flat_labels(e), e.t_ms, e.v, record);
        q.add(e.hash, e.t_ms, record, o);
      }
    }
    q.commit(now);
    while (auto b = q.take_batch(0, now)) {
      compress(b->body, body);
      compressed += body.size();
      for (const auto& r : b->records) acks.done(r.origin);
      samples += b->records.size();
      q.complete(0, b->id, {}, now);
    }
    spool::position end;
    if (acks.committable(end)) store->commit(reader, end);
  }
  state.counters["samples_per_second"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  state.counters["spool_bytes_per_sample"] =
      static_cast<double>(spooled) / static_cast<double>(state.iterations() * 1000);
  state.counters["wire_bytes_per_sample"] = static_cast<double>(compressed) / static_cast<double>(samples);
}
// CPU time: "one core" is CPU seconds (fdatasync blocks without using the CPU, and on a busy 2-core machine
// wall time says more about the neighbours). Wall time is printed beside it.
BENCHMARK(through_spool)->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace
}  // namespace sigv4::scraper

BENCHMARK_MAIN();
