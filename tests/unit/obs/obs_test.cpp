#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "obs/process_metrics.hpp"

namespace sigv4::obs {
namespace {

TEST(metrics, renders_the_text_exposition_format) {
  registry r;
  auto& requests = r.counters("x_requests_total", "Requests.", {"route", "code"});
  requests.with({"amp", "200"}).inc(3);
  requests.with({"amp", "502"}).inc();
  requests.with({"amp", "200"}).inc();
  r.gauges("x_open", "Open.").with({}).set(2);
  auto& h = r.histograms("x_seconds", "Latency.", {"route"}, {0.1, 1});
  h.with({"a\"b\\c\nd"}).observe(0.05);
  h.with({"a\"b\\c\nd"}).observe(0.5);
  h.with({"a\"b\\c\nd"}).observe(5);
  std::string text = r.render();
  EXPECT_NE(text.find("# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("x_requests_total{route=\"amp\",code=\"200\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("x_requests_total{route=\"amp\",code=\"502\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_open 2\n"), std::string::npos);
  const std::string l = "route=\"a\\\"b\\\\c\\nd\"";  // escaped label value
  EXPECT_NE(text.find("x_seconds_bucket{" + l + ",le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{" + l + ",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{" + l + ",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_count{" + l + "} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_sum{" + l + "} 5.5"), std::string::npos);
}

// The value of an unlabelled sample in a rendering, or -1.
double sample(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

TEST(process_metrics, read_the_process_at_every_render) {
  registry r;
  register_process_metrics(r);
  const std::string before = r.render();
  for (const char* n : {"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
                        "process_max_fds", "process_threads", "process_start_time_seconds",
                        "process_cpu_seconds_total", "sigv4_sidecar_heap_inuse_bytes",
                        "sigv4_sidecar_heap_free_bytes"}) {
    EXPECT_GE(sample(before, n), 0) << n << " missing in\n" << before;
  }
  EXPECT_GT(sample(before, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(sample(before, "process_threads"), 1);

  // Each figure follows the process: a descriptor, a thread and 16 MiB of heap more while they exist.
  const double fds = sample(before, "process_open_fds");
  const double heap = sample(before, "sigv4_sidecar_heap_inuse_bytes");
  FILE* f = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(f, nullptr);
  std::vector<char> big(16u << 20, 'x');
  std::promise<void> go;
  std::thread t([&] { go.get_future().wait(); });
  const std::string during = r.render();
  go.set_value();
  t.join();
  std::fclose(f);
  EXPECT_EQ(sample(during, "process_open_fds"), fds + 1);
  EXPECT_GE(sample(during, "process_threads"), sample(before, "process_threads") + 1);
  EXPECT_GE(sample(during, "sigv4_sidecar_heap_inuse_bytes"), heap + (16u << 20));
  EXPECT_GE(sample(during, "process_resident_memory_bytes"), sample(before, "process_resident_memory_bytes") + (8u << 20));
  // CPU time never goes backwards.
  std::uint64_t x = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 0; i < 20'000'000; ++i) x = x * 6364136223846793005u + 1442695040888963407u;
  EXPECT_NE(x, 0u);
  EXPECT_GT(sample(r.render(), "process_cpu_seconds_total"), sample(before, "process_cpu_seconds_total"));
  EXPECT_EQ(big[12345], 'x');
}

// Free pages in the middle of the heap (every other 16 KiB block freed, so nothing coalesces into a top glibc would
// trim on its own) stay resident until the releaser hands them back; it counts what it released.
TEST(heap_releaser, gives_free_pages_inside_the_heap_back_and_counts_them) {
  registry r;
  heap_releaser heap(r);
  std::vector<char*> blocks;
  for (int i = 0; i < 2048; ++i) {
    auto* b = static_cast<char*>(std::malloc(16384));
    ASSERT_NE(b, nullptr);
    std::memset(b, 'x', 16384);  // resident
    blocks.push_back(b);
  }
  for (std::size_t i = 0; i < blocks.size(); i += 2) std::free(blocks[i]);  // 16 MiB free, none of it at the top
  const std::size_t released = heap.release(0);
  const std::string text = r.render();
  if (heap_releaser::supported()) {
    EXPECT_GE(released, 8u << 20) << "of 16 MiB free in 1024 blocks (3 of each block's 4 pages are whole)";
    EXPECT_EQ(sample(text, "sigv4_sidecar_heap_releases_total"), 1);
    EXPECT_EQ(sample(text, "sigv4_sidecar_heap_released_bytes_total"), static_cast<double>(released));
  } else {  // a sanitizer's allocator: nothing to hand back through glibc, and nothing counted
    EXPECT_EQ(released, 0u);
    EXPECT_EQ(sample(text, "sigv4_sidecar_heap_releases_total"), 0);
  }
  for (std::size_t i = 1; i < blocks.size(); i += 2) {
    EXPECT_EQ(blocks[i][8192], 'x');  // the blocks in use kept their bytes
    std::free(blocks[i]);
  }
}

TEST(metrics, counters_are_exact_under_concurrency) {
  registry r;
  auto& c = r.counters("c_total", "C.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.with({"v"}).inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.with({"v"}).value(), 40000u);
}

TEST(log, logfmt_quotes_and_escapes_so_a_path_cannot_forge_a_line) {
  configure(level::info, log_format::logfmt);
  testing::internal::CaptureStderr();
  info("request", {{"path", "/a b\n level=error msg=forged"}, {"status", 200}, {"plain", "x"}});
  debug("hidden", {});
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_NE(out.find(" level=info msg=\"request\" path=\"/a b\\n level=error msg=forged\" status=200 plain=x\n"),
            std::string::npos)
      << out;
}

TEST(log, json_lines_and_levels) {
  configure(level::warn, log_format::json);
  testing::internal::CaptureStderr();
  info("dropped", {});
  warn("kept", {{"k", "v\"q"}});
  std::string out = testing::internal::GetCapturedStderr();
  configure(level::info, log_format::logfmt);
  EXPECT_EQ(out.find("dropped"), std::string::npos);
  EXPECT_NE(out.find("\"level\":\"warn\",\"msg\":\"kept\",\"k\":\"v\\\"q\"}\n"), std::string::npos) << out;
  level l{};
  EXPECT_TRUE(parse_level("debug", l));
  EXPECT_EQ(l, level::debug);
  EXPECT_FALSE(parse_level("verbose", l));
}

TEST(log, rate_limiter_lets_one_through_per_interval_and_counts_the_rest) {
  rate_limiter limiter(std::chrono::hours(1));
  std::uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.allow(suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.allow(suppressed));
}

}  // namespace
}  // namespace sigv4::obs
