#include "obs/log.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace sigv4::obs {
namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::atomic<log_format> format{log_format::logfmt};
std::mutex write_mutex;

std::string_view name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// Escapes for a double-quoted string in both formats; control characters become \uXXXX so a hostile path
// cannot forge a log line.
void append_quoted(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || c == '"' || c == '=' || c == '\\' || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

void configure(level l, log_format f) {
  min_level = static_cast<int>(l);
  format = f;
}

bool parse_level(std::string_view s, level& out) {
  for (level l : {level::debug, level::info, level::warn, level::error}) {
    if (s == name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

bool enabled(level l) { return static_cast<int>(l) >= min_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
  if (!enabled(l)) return;
  std::string line;
  line.reserve(128);
  if (format.load(std::memory_order_relaxed) == log_format::json) {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + std::string(name(l)) + "\",\"msg\":";
    append_quoted(line, msg);
    for (const auto& f : fields) {
      line += ',';
      append_quoted(line, f.key);
      line += ':';
      append_quoted(line, f.value);
    }
    line += "}\n";
  } else {
    line += "ts=" + timestamp() + " level=" + std::string(name(l)) + " msg=";
    append_quoted(line, msg);
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      if (needs_quotes(f.value)) {
        append_quoted(line, f.value);
      } else {
        line += f.value;
      }
    }
    line += '\n';
  }
  std::lock_guard lock(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

bool rate_limiter::allow(std::uint64_t& suppressed) {
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto next = next_.load(std::memory_order_relaxed);
  if (now < next || !next_.compare_exchange_strong(next, now + interval_.count())) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = dropped_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace sigv4::obs
