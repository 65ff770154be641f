#pragma once
// The spool benchmarks' scratch directory: a fresh one under /tmp (SPOOL_BENCH_DIR to put it elsewhere),
// named PREFIX_XXXXXX, removed with all it holds when the benchmark is done with it.
#include <cstdlib>  // getenv, abort and (POSIX) mkdtemp
#include <filesystem>
#include <string>
#include <string_view>

namespace sigv4::bench {

struct temp_dir {
  std::string path;
  explicit temp_dir(std::string_view prefix) {
    const char* base = std::getenv("SPOOL_BENCH_DIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/" + std::string(prefix) + "_XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace sigv4::bench
