// credential_process: real /bin/sh children, scripts written by the test into a temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "creds/process_provider.hpp"

namespace sigv4::creds {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::system_clock;

class ProcessProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("process_provider_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes an executable script and returns the command that runs it (a path with no shell metacharacters).
  std::string script(const std::string& body) {
    auto path = dir_ / ("s" + std::to_string(++scripts_) + ".sh");
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path.string();
  }

  static fetch_result run(const std::string& command, process_options options = {}) {
    asio::io_context ioc;
    process_provider p(command, std::move(options));
    auto result = asio::co_spawn(ioc, p.fetch(), asio::use_future);
    ioc.run();
    return result.get();
  }

  std::filesystem::path dir_;
  int scripts_ = 0;
};

constexpr const char* full_json =
    R"({"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "SECRET", "SessionToken": "TOKEN",)"
    R"( "Expiration": "2026-11-27T12:00:00Z"})";

TEST_F(ProcessProvider, ValidOutput) {
  auto r = run(script(std::string("cat <<'EOF'\n") + full_json + "\nEOF"));
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(r.creds->provider, "process");
  EXPECT_EQ(r.creds->creds.access_key_id, "AKID");
  EXPECT_EQ(r.creds->creds.secret_access_key, "SECRET");
  EXPECT_EQ(r.creds->creds.session_token, "TOKEN");
  using namespace std::chrono;
  EXPECT_EQ(r.creds->expiration, sys_days(year(2026) / 11 / 27) + 12h);
}

TEST_F(ProcessProvider, OptionalFieldsAbsentOrNull) {
  auto r = run(script(
      R"(echo '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":null,"Expiration":null}')"));
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(r.creds->creds.session_token, "");
  EXPECT_FALSE(r.creds->expiration);
}

TEST_F(ProcessProvider, RunsThroughTheShellWithTheEnvironment) {
  ::setenv("SIGV4_PROCESS_TEST_KEY", "FROM_ENV", 1);
  auto r = run(
      R"(printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"S"}' "$SIGV4_PROCESS_TEST_KEY" | cat)");
  ::unsetenv("SIGV4_PROCESS_TEST_KEY");
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(r.creds->creds.access_key_id, "FROM_ENV");
}

TEST_F(ProcessProvider, StdinIsClosed) {
  process_options o;
  o.timeout = 5s;
  auto r = run(
      script("cat >/dev/null\necho '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}'"), o);
  EXPECT_TRUE(r.creds) << r.reason;
}

TEST_F(ProcessProvider, NonZeroExitKeepsTheFirstStderrLine) {
  process_options o;
  o.profile = "dev";
  auto r = run(script("echo 'token expired: run aws sso login' >&2\necho 'second line' >&2\nexit 3"), o);
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.applies);
  EXPECT_EQ(r.reason,
            "credential_process (profile dev): exited with status 3: token expired: run aws sso login");
  r = run(script("exit 1"));
  EXPECT_EQ(r.reason, "credential_process: exited with status 1");
}

TEST_F(ProcessProvider, KilledBySignal) {
  auto r = run("kill -TERM $$");  // the shell itself; a script would be a child and give status 143
  EXPECT_FALSE(r.creds);
  EXPECT_NE(r.reason.find("killed by signal 15"), std::string::npos) << r.reason;
}

// True once `pid` is gone or a zombie (a container's PID 1 may never reap what it inherits).
bool dead(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto state = line.substr(line.rfind(')') + 2, 1);
  return state == "Z" || state == "X";
}

TEST_F(ProcessProvider, TimeoutKillsTheWholeProcessGroup) {
  auto pidfile = (dir_ / "bg.pid").string();
  process_options o;
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = run(script("sleep 30 &\necho $! > " + pidfile + "\nsleep 30"), o);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "credential_process: timed out after 300 ms; its process group was killed");
  EXPECT_LT(took, 5s);
  std::string pid;
  std::ifstream(pidfile) >> pid;
  ASSERT_FALSE(pid.empty());
  for (int i = 0; i < 200 && !dead(pid); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(dead(pid)) << "the background child " << pid << " survived";
}

TEST_F(ProcessProvider, CancellationKillsTheChild) {
  auto pidfile = (dir_ / "bg.pid").string();
  asio::io_context ioc;
  process_provider p(script("sleep 30 &\necho $! > " + pidfile + "\nsleep 30"));
  asio::cancellation_signal cancel;
  bool finished = false;
  asio::co_spawn(ioc, p.fetch(),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, fetch_result r) {
                   finished = true;
                   // Asio coroutines throw operation_aborted at their next wait once cancelled, unless the
                   // caller turned that off; then the reason says so.
                   EXPECT_TRUE(e || r.reason == "credential_process: cancelled; its process group was killed")
                       << r.reason;
                 }));
  asio::steady_timer timer(ioc, 200ms);
  timer.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
  auto start = std::chrono::steady_clock::now();
  ioc.run_for(10s);
  EXPECT_TRUE(finished);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  std::string pid;
  std::ifstream(pidfile) >> pid;
  ASSERT_FALSE(pid.empty());
  for (int i = 0; i < 200 && !dead(pid); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(dead(pid)) << "the background child " << pid << " survived";
}

TEST_F(ProcessProvider, HugeOutputIsCutOff) {
  process_options o;
  o.max_output = 64 * 1024;
  auto start = std::chrono::steady_clock::now();
  auto r = run("yes '{\"Version\":1}'", o);
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "credential_process: printed more than 65536 bytes; its process group was killed");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);  // not the 30 s timeout
}

TEST_F(ProcessProvider, BadOutputNeverEchoesTheSecret) {
  auto r = run(script(R"(echo '{"Version":1,"AccessKeyId":"AKID","SecretAccessKey":"SUPERSECRET"')"));
  EXPECT_FALSE(r.creds);
  EXPECT_NE(r.reason.find("credential_process: output is not JSON"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("SUPERSECRET"), std::string::npos);
  r = run(script("echo garbage"));
  EXPECT_NE(r.reason.find("output is not JSON"), std::string::npos) << r.reason;
  r = run(script("echo '[1]'"));
  EXPECT_EQ(r.reason, "credential_process: output is not a JSON object");
}

TEST_F(ProcessProvider, WrongVersionAndMissingKeys) {
  auto r = run(script(R"(echo '{"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"}')"));
  EXPECT_EQ(r.reason, "credential_process: unsupported Version 2 (must be 1)");
  r = run(script(R"(echo '{"AccessKeyId":"A","SecretAccessKey":"S"}')"));
  EXPECT_EQ(r.reason, "credential_process: output has no Version (must be 1)");
  r = run(script(R"(echo '{"Version":1,"AccessKeyId":"A"}')"));
  EXPECT_EQ(r.reason, "credential_process: output has no SecretAccessKey");
  r = run(script(R"(echo '{"Version":1,"AccessKeyId":"","SecretAccessKey":"S"}')"));
  EXPECT_EQ(r.reason, "credential_process: AccessKeyId is not a non-empty string");
  r = run(script(R"(echo '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"tomorrow"}')"));
  EXPECT_EQ(r.reason, "credential_process: Expiration \"tomorrow\" is not an RFC 3339 timestamp");
}

TEST(ProcessOutput, VersionAsBotocoreComparesIt) {
  std::string error;
  EXPECT_TRUE(parse_process_output(R"({"Version":1.0,"AccessKeyId":"A","SecretAccessKey":"S"})", error))
      << error;
  EXPECT_FALSE(parse_process_output(R"({"Version":"1","AccessKeyId":"A","SecretAccessKey":"S"})", error));
  EXPECT_EQ(error, "unsupported Version \"1\" (must be 1)");
}

TEST_F(ProcessProvider, DoesNotBlockTheIoContext) {
  asio::io_context ioc;
  process_provider p(
      script("sleep 0.5\necho '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}'"));
  auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point ticked, fetched;
  asio::steady_timer timer(ioc, 50ms);
  timer.async_wait([&](auto) { ticked = std::chrono::steady_clock::now(); });
  auto result = asio::co_spawn(ioc, p.fetch(), asio::use_future);
  ioc.run();
  fetched = std::chrono::steady_clock::now();
  EXPECT_TRUE(result.get().creds);
  EXPECT_LT(ticked - started, 400ms);
  EXPECT_GE(fetched - started, 450ms);
}

TEST(Rfc3339, Forms) {
  using namespace std::chrono;
  auto noon = sys_days(year(2026) / 11 / 27) + 12h;
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27T12:00:00Z"), noon);
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27t12:00:00z"), noon);
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27 12:00:00Z"), noon);
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27T14:30:00+02:30"), noon);
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27T07:00:00-05:00"), noon);
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27T12:00:00.250Z"), noon + 250ms);
  EXPECT_EQ(parse_rfc3339_timestamp("2026-11-27T12:00:00.1234567891Z"), noon + 123456789ns);
  for (auto bad : {"", "2026-11-27T12:00:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                   "2026-11-27T24:00:00Z", "2026-11-27T12:00:00.Z", "2026-11-27T12:00:00+0200",
                   "2026-11-27T12:00:00Zjunk", "2026/11/27T12:00:00Z"})
    EXPECT_FALSE(parse_rfc3339_timestamp(bad)) << bad;
  // Outside system_clock's range (1678 to 2262): refused, not overflowed (creds_json_fuzz).
  for (auto far : {"1013-11-27T18:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
                   "2262-04-11T23:47:16.9Z", "1677-09-21T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339_timestamp(far)) << far;
  EXPECT_EQ(parse_rfc3339_timestamp("2262-04-11T23:47:15.5Z"),
            sys_days(year(2262) / 4 / 11) + 23h + 47min + 15s + 500ms);
  EXPECT_TRUE(parse_rfc3339_timestamp("1678-01-01T00:00:00+23:59"));
}

}  // namespace
}  // namespace sigv4::creds
