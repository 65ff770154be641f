// Signer throughput. Run on one core: taskset -c 0 build/release/bench/signer_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "signer/payload_hash.hpp"
#include "signer/signer.hpp"

namespace {

using namespace std::chrono;

const sigv4::credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                               "FwoGZXIvYXdzEBYaDHqa0AP1/session/token/of/a/realistic/length/abcdefghijklmnop"};
const sys_seconds when{seconds{1440938160}};

// A Prometheus scrape of an execute-api endpoint, key cached: the proxy's hot path.
void sign_small_get(benchmark::State& state) {
  sigv4::signer signer;
  std::vector<sigv4::header> headers = {{"Host", "abc123defg.execute-api.us-east-1.amazonaws.com"},
                                        {"Accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"},
                                        {"User-Agent", "Prometheus/2.42.0"}};
  sigv4::signing_params params{.region = "us-east-1", .service = "execute-api", .time = when};
  for (auto _ : state) {
    auto r = signer.sign_headers({"GET", "/prod/metrics?format=prometheus", headers}, creds, params);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(sign_small_get);

// A remote_write push: hash the 64 KiB snappy body as it streams, then sign.
void sign_remote_write_64k(benchmark::State& state) {
  sigv4::signer signer;
  std::string body(64 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 + 17);
  std::vector<sigv4::header> headers = {{"Host", "aps-workspaces.us-east-1.amazonaws.com"},
                                        {"Content-Type", "application/x-protobuf"},
                                        {"Content-Encoding", "snappy"},
                                        {"X-Prometheus-Remote-Write-Version", "0.1.0"},
                                        {"Content-Length", "65536"}};
  sigv4::payload_hasher hasher;
  for (auto _ : state) {
    for (std::size_t at = 0; at < body.size(); at += 16384) hasher.update(body.data() + at, 16384);
    std::string hash = hasher.finish_hex();
    sigv4::signing_params params{
        .region = "us-east-1", .service = "aps", .time = when, .payload_hash = hash};
    auto r = signer.sign_headers({"POST", "/workspaces/ws-1234/api/v1/remote_write", headers}, creds, params);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(sign_remote_write_64k);

void hash_1mib(benchmark::State& state) {
  std::string body(1024 * 1024, 'x');
  sigv4::payload_hasher hasher;
  for (auto _ : state) {
    hasher.update(body);
    benchmark::DoNotOptimize(hasher.finish_hex());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(hash_1mib);

// What a cache miss costs (first request of a UTC day, or after a credential rotation).
void derive_signing_key(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(sigv4::derive_signing_key(creds.secret_access_key, "20150830", "us-east-1", "aps"));
  }
}
BENCHMARK(derive_signing_key);

}  // namespace

BENCHMARK_MAIN();
