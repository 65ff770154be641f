#include "creds/process_provider.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;  // NOLINT: POSIX gives it no header

namespace sigv4::creds {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::as_tuple;
using asio::use_awaitable;

constexpr std::size_t stderr_keep = 4096;  // enough for a first line; the rest is drained and dropped

struct spawned {
  pid_t pid = -1;
  int out = -1;  // read ends, owned by the caller
  int err = -1;
  std::string error;
};

// The child gets its own process group (so a timeout can kill the shell and everything it started), stdin on
// /dev/null (nobody can answer a prompt), and default signal dispositions (the daemon ignores SIGPIPE).
spawned spawn_shell(const std::string& command) {
  spawned s;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {-1, -1, -1, std::strerror(errno)};
  if (::pipe2(err, O_CLOEXEC) != 0) {
    s.error = std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return s;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  std::string arg0 = "sh", arg1 = "-c", arg2 = command;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  int rc = posix_spawn(&s.pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return {-1, -1, -1, std::strerror(rc)};
  }
  s.out = out[0];
  s.err = err[0];
  return s;
}

// Kills and reaps the child when fetch() ends before doing so itself: cancelled, or its coroutine destroyed
// at shutdown. SIGKILL makes the blocking waitpid short.
struct child_guard {
  explicit child_guard(pid_t p) : pid(p) {}
  child_guard(const child_guard&) = delete;
  child_guard& operator=(const child_guard&) = delete;
  ~child_guard() {
    if (done) return;
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }

  pid_t pid;
  bool done = false;
};

// Reads a pipe to EOF, keeping at most `limit` bytes. With `kill_group`, more than `limit` kills the group
// (so the writer stops and the other pipe closes too); without, the excess is drained and dropped.
asio::awaitable<void> read_pipe(asio::posix::stream_descriptor& pipe, std::string& into, std::size_t limit,
                                bool& overflow, pid_t kill_group) {
  char buf[16384];
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    if (ec) co_return;  // EOF, or cancelled by the timeout
    auto room = limit - std::min(limit, into.size());
    into.append(buf, std::min(n, room));
    if (n > room && !overflow) {
      overflow = true;
      if (kill_group > 0) {
        ::kill(-kill_group, SIGKILL);
        co_return;
      }
    }
  }
}

// waitpid without blocking the thread: polls until the child is reaped or `deadline` passes.
asio::awaitable<std::optional<int>> reap(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto pause = 1ms;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) co_return status;
    if (r < 0 && errno != EINTR) co_return std::nullopt;  // ECHILD: SIGCHLD ignored, reaped by the kernel
    if (std::chrono::steady_clock::now() >= deadline) co_return std::nullopt;
    timer.expires_after(pause);
    co_await timer.async_wait(as_tuple(use_awaitable));
    pause = std::min<std::chrono::milliseconds>(pause * 2, 50ms);
  }
}

// The first line of stderr, trimmed and made printable, for the error message.
std::string first_line(std::string_view err) {
  err = err.substr(0, err.find('\n'));
  while (!err.empty() && (err.back() == '\r' || err.back() == ' ' || err.back() == '\t'))
    err.remove_suffix(1);
  std::string out;
  for (char c : err.substr(0, 300)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

bool read_digits(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339_timestamp(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !read_digits(s, 0, 4, y) || s[4] != '-' || !read_digits(s, 5, 2, mo) || s[7] != '-' ||
      !read_digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !read_digits(s, 11, 2, h) || s[13] != ':' || !read_digits(s, 14, 2, mi) || s[16] != ':' ||
      !read_digits(s, 17, 2, sec))
    return std::nullopt;
  std::size_t i = 19;
  nanoseconds fraction{0};
  if (i < s.size() && s[i] == '.') {
    std::size_t start = ++i;
    std::int64_t ns = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      if (i - start < 9) ns = ns * 10 + (s[i] - '0');
    if (i == start) return std::nullopt;
    for (auto digits = i - start; digits < 9; ++digits) ns *= 10;
    fraction = nanoseconds(ns);
  }
  minutes offset{0};
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!read_digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !read_digits(s, i + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[i] == '-' ? -1 : 1) * (hours(oh) + minutes(om));
    i += 6;
  } else {
    return std::nullopt;
  }
  year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (i != s.size() || !date.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  // In seconds first: system_clock counts nanoseconds in 64 bits (years 1678 to 2262), and a year outside
  // would overflow.
  const sys_seconds whole = sys_days(date) + hours(h) + minutes(mi) + seconds(sec) - offset;
  if (whole < ceil<seconds>(system_clock::time_point::min()) ||
      whole >= floor<seconds>(system_clock::time_point::max()))
    return std::nullopt;
  return time_point_cast<system_clock::duration>(whole) + duration_cast<system_clock::duration>(fraction);
}

std::optional<snapshot> parse_process_output(std::string_view json, std::string& error) {
  auto fail = [&](std::string why) -> std::optional<snapshot> {
    error = std::move(why);
    return std::nullopt;
  };
  boost::system::error_code ec;
  auto doc = boost::json::parse(json, ec);
  // Never quote the output: it may be the secret itself.
  if (ec) return fail("output is not JSON (" + ec.message() + ")");
  if (!doc.is_object()) return fail("output is not a JSON object");
  const auto& o = doc.as_object();

  // botocore compares with Python's `!= 1`, so 1.0 passes too.
  const auto* version = o.if_contains("Version");
  if (version == nullptr) return fail("output has no Version (must be 1)");
  bool one = (version->is_int64() && version->as_int64() == 1) ||
             (version->is_uint64() && version->as_uint64() == 1) ||
             (version->is_double() && version->as_double() == 1.0);
  if (!one)
    return fail("unsupported Version " + boost::json::serialize(*version).substr(0, 40) + " (must be 1)");

  // `required`: absent or null is an error; a present value must be a string either way.
  auto text = [&](const char* key, bool required, std::string& out) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) error = std::string("output has no ") + key;
      return !required;
    }
    if (!v->is_string() || (required && v->as_string().empty())) {
      error = std::string(key) + (required ? " is not a non-empty string" : " is not a string");
      return false;
    }
    out = std::string(v->as_string());
    return true;
  };
  snapshot s;
  s.provider = "process";
  std::string expiration;
  if (!text("AccessKeyId", true, s.creds.access_key_id) ||
      !text("SecretAccessKey", true, s.creds.secret_access_key) ||
      !text("SessionToken", false, s.creds.session_token) || !text("Expiration", false, expiration))
    return std::nullopt;
  if (!expiration.empty()) {
    s.expiration = parse_rfc3339_timestamp(expiration);
    if (!s.expiration)
      return fail("Expiration \"" + first_line(expiration).substr(0, 64) + "\" is not an RFC 3339 timestamp");
  }
  return s;
}

process_provider::process_provider(std::string command, process_options options)
    : command_(std::move(command)), options_(std::move(options)) {}

std::string process_provider::what() const {
  return options_.profile.empty() ? "credential_process"
                                  : "credential_process (profile " + options_.profile + ")";
}

asio::awaitable<fetch_result> process_provider::fetch() {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  auto child = spawn_shell(command_);
  if (!child.error.empty()) co_return fetch_result::fail(what() + ": cannot start /bin/sh: " + child.error);

  child_guard guard{child.pid};
  std::string out, err;
  bool out_overflow = false, err_overflow = false;
  std::optional<int> status;
  bool timed_out = false, cancelled = false;
  {
    asio::posix::stream_descriptor out_pipe(ex, child.out), err_pipe(ex, child.err);
    asio::steady_timer timer(ex, deadline);
    auto first = co_await ((read_pipe(out_pipe, out, options_.max_output, out_overflow, child.pid) &&
                            read_pipe(err_pipe, err, stderr_keep, err_overflow, 0)) ||
                           timer.async_wait(as_tuple(use_awaitable)));
    timed_out = first.index() == 1;
    cancelled = timed_out && std::get<1>(first) == std::tuple{asio::error::operation_aborted};
  }
  if (!timed_out) {
    status = co_await reap(child.pid, deadline);  // the pipes closed; the child may still be exiting
    timed_out = !status.has_value() && std::chrono::steady_clock::now() >= deadline;
  }
  if (timed_out) {
    ::kill(-child.pid, SIGKILL);
    co_await reap(child.pid, std::chrono::steady_clock::now() + 5s);
  }
  guard.done = true;  // reaped, or past saving (ECHILD, or unkillable); never kill a pid that may be reused

  auto why = [&](std::string s) { return fetch_result::fail(what() + ": " + std::move(s)); };
  if (cancelled) co_return why("cancelled; its process group was killed");
  if (timed_out)
    co_return why("timed out after " + std::to_string(options_.timeout.count()) +
                  " ms; its process group was killed");
  if (out_overflow)
    co_return why("printed more than " + std::to_string(options_.max_output) +
                  " bytes; its process group was killed");
  if (!status) co_return why("its exit status could not be read (is SIGCHLD ignored?)");
  auto detail = first_line(err);
  if (WIFSIGNALED(*status))
    co_return why(std::string("killed by signal ") + std::to_string(WTERMSIG(*status)) + " (" +
                  strsignal(WTERMSIG(*status)) + ")" + (detail.empty() ? "" : ": " + detail));
  if (WEXITSTATUS(*status) != 0)
    co_return why("exited with status " + std::to_string(WEXITSTATUS(*status)) +
                  (detail.empty() ? "" : ": " + detail));
  std::string error;
  auto snap = parse_process_output(out, error);
  if (!snap) co_return why(std::move(error));
  co_return fetch_result::ok(std::move(*snap));
}

}  // namespace sigv4::creds
