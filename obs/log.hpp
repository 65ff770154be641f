#pragma once
// Structured logs on stderr: one line per event, logfmt or JSON. Callers never pass secrets, session tokens or
// signatures; the only request-derived strings logged are methods, paths, hosts and upstream error texts.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sigv4::obs {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };
enum class log_format { logfmt, json };

struct field {
  std::string_view key;
  std::string value;
  field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const char* v) : key(k), value(v) {}
  template <class Int>
    requires std::is_integral_v<Int>
  field(std::string_view k, Int v) : key(k), value(std::to_string(v)) {}
};

void configure(level min_level, log_format format);
bool parse_level(std::string_view s, level& out);
bool enabled(level l);
void write(level l, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<field> f = {}) { write(level::info, msg, f); }
inline void warn(std::string_view msg, std::initializer_list<field> f = {}) { write(level::warn, msg, f); }
inline void error(std::string_view msg, std::initializer_list<field> f = {}) { write(level::error, msg, f); }

// Lets one event through per interval (and counts what it suppressed), for logs an attacker or a broken
// upstream could otherwise turn into a flood. Thread-safe.
class rate_limiter {
 public:
  explicit rate_limiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  // True when the event may be logged; `suppressed` gets how many were dropped since the last one.
  bool allow(std::uint64_t& suppressed);

 private:
  std::chrono::steady_clock::duration interval_;
  std::atomic<std::int64_t> next_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace sigv4::obs
