// The disk spool alone, in a directory under /tmp (SPOOL_BENCH_DIR to put it elsewhere): appends of
// ~4 KiB records (a snappy-compressed chunk of ~50 samples: incompressible bytes) with a sync every
// 1 s / 100 ms / 10 ms of wall time, read-back of a 256 MiB spool, and open() scanning and verifying one.
// The aim for the whole spool path is 300k samples/s on one core: at ~80 bytes a sample, 24 MB/s.
// Real time throughout: fdatasync blocks without using the CPU.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>

#include "bench/temp_dir.hpp"
#include "scraper/spool.hpp"

namespace sigv4::scraper::spool {
namespace {

constexpr double bytes_per_sample = 80;  // the estimate of an encoded, compressed sample

std::string incompressible(std::size_t n) {
  std::mt19937_64 rng(42);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

std::unique_ptr<store> open_or_die(settings s) {
  status st;
  auto sp = store::open(std::move(s), st);
  if (!sp) {
    std::fprintf(stderr, "%s\n", st.message.c_str());
    std::abort();
  }
  return sp;
}

void append(benchmark::State& state) {
  const auto record = incompressible(static_cast<std::size_t>(state.range(0)));
  const std::chrono::milliseconds sync_every(state.range(1));
  bench::temp_dir dir{"spool_bench"};
  settings s;
  s.dir = dir.path;
  s.readers = {"amp"};
  s.max_bytes = 1ull << 30;  // the oldest segments go (unlink) instead of filling the disk
  s.max_age = std::chrono::milliseconds(0);
  auto sp = open_or_die(s);
  auto last = std::chrono::steady_clock::now();
  std::int64_t syncs = 0;
  std::int64_t n = 0;
  for (auto _ : state) {
    if (!sp->append(record, 1'700'000'000'000 + n).ok()) state.SkipWithError("append failed");
    if ((++n & 15) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last >= sync_every) {
        if (!sp->sync().ok()) state.SkipWithError("sync failed");
        last = now;
        ++syncs;
      }
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * state.range(0)) / bytes_per_sample,
                         benchmark::Counter::kIsRate);
  state.counters["syncs"] = static_cast<double>(syncs);
}
BENCHMARK(append)
    ->ArgNames({"record_bytes", "sync_ms"})
    ->Args({4096, 1000})
    ->Args({4096, 100})
    ->Args({4096, 10})
    ->Args({512, 1000})
    ->UseRealTime()
    ->MinTime(5);

// A spool of 256 MiB of 4 KiB records, written once for the benchmarks below (google benchmark calls each
// function several times while it settles on an iteration count).
struct filled {
  bench::temp_dir dir{"spool_bench"};
  settings s;
  filled() {
    s.dir = dir.path;
    s.readers = {"amp"};
    s.max_age = std::chrono::milliseconds(0);
    auto sp = open_or_die(s);
    const auto record = incompressible(4096);
    for (int i = 0; i < (256 << 20) / 4096; ++i) (void)sp->append(record, 1'700'000'000'000 + i);
  }
};

filled& spool_of_256_mib() {
  static filled f;  // removed at exit
  return f;
}

void read_back(benchmark::State& state) {
  filled& f = spool_of_256_mib();
  auto sp = open_or_die(f.s);
  const reader_id r = sp->open_reader("amp");
  std::vector<record> out;
  std::int64_t bytes = 0;
  std::int64_t records = 0;
  for (auto _ : state) {
    if (!sp->read(r, 256, 1 << 20, out).ok()) state.SkipWithError("read failed");
    if (out.empty()) {
      sp->rewind(r);  // nothing committed: back to the start of the 256 MiB
      continue;
    }
    records += static_cast<std::int64_t>(out.size());
    for (const record& rec : out) bytes += static_cast<std::int64_t>(rec.payload.size());
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(records);
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(bytes) / bytes_per_sample, benchmark::Counter::kIsRate);
}
BENCHMARK(read_back)->UseRealTime()->MinTime(3);

// open(): every segment read and every checksum verified (from the page cache here: a cold disk is slower).
void open_scan(benchmark::State& state) {
  filled& f = spool_of_256_mib();
  for (auto _ : state) benchmark::DoNotOptimize(open_or_die(f.s));
  state.SetBytesProcessed(state.iterations() * (256 << 20));
}
BENCHMARK(open_scan)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace
}  // namespace sigv4::scraper::spool

BENCHMARK_MAIN();
