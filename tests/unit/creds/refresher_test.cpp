// Refresh timing and the refresher's behaviour, with a fake clock and fake providers: no sleeping, no sockets.
#include "creds/refresher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <fstream>
#include <map>

#include "creds/chain.hpp"
#include "creds/container_provider.hpp"
#include "creds/imds_provider.hpp"
#include "creds/json_credentials.hpp"

namespace sigv4::creds {
namespace {

using namespace std::chrono;
namespace asio = boost::asio;
const time_point t0 = system_clock::time_point(sys_days{2026y / 11 / 27} + 12h);

// An environment lookup over a map the test keeps changing.
env_fn env_over(const std::map<std::string, std::string>& vars) {
  return [&vars](const char* n) -> const char* {
    auto it = vars.find(n);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(refresh_policy, refreshes_five_minutes_before_expiry_minus_jitter) {
  refresh_policy p;
  EXPECT_EQ(next_refresh(p, t0, t0 + 1h, 0.0), t0 + 55min);
  EXPECT_EQ(next_refresh(p, t0, t0 + 1h, 0.5), t0 + 54min + 30s);
  EXPECT_EQ(next_refresh(p, t0, std::nullopt, 0.3), t0 + 1h);  // long-lived: re-check hourly
  // Less than five minutes left: half-way through what remains, never sooner than a second.
  EXPECT_EQ(next_refresh(p, t0, t0 + 4min, 0.0), t0 + 2min);
  EXPECT_EQ(next_refresh(p, t0, t0 + 1s, 0.0), t0 + 1s);
  // Jitter never exceeds a quarter of the wait: 304 s credentials refresh 3 to 4 s from now, not at once.
  EXPECT_EQ(next_refresh(p, t0, t0 + 304s, 0.0), t0 + 4s);
  EXPECT_EQ(next_refresh(p, t0, t0 + 304s, 1.0), t0 + 3s);
}

TEST(refresh_policy, retries_with_capped_exponential_backoff) {
  refresh_policy p;
  EXPECT_EQ(next_retry(p, t0, 1, std::nullopt), t0 + 1s);
  EXPECT_EQ(next_retry(p, t0, 2, std::nullopt), t0 + 2s);
  EXPECT_EQ(next_retry(p, t0, 5, std::nullopt), t0 + 16s);
  EXPECT_EQ(next_retry(p, t0, 30, std::nullopt), t0 + 2min);
  // Valid credentials expiring in 2 minutes: retry at least every quarter of what is left.
  EXPECT_EQ(next_retry(p, t0, 30, t0 + 2min), t0 + 30s);
  // No valid credentials at all: every request fails, so retries stay a few seconds apart.
  EXPECT_EQ(next_retry(p, t0, 30, std::nullopt, true), t0 + 5s);
  EXPECT_EQ(next_retry(p, t0, 2, std::nullopt, true), t0 + 2s);
}

struct scripted_provider : provider {
  std::deque<fetch_result> answers;
  int calls = 0;
  std::string_view name() const override { return "scripted"; }
  asio::awaitable<fetch_result> fetch() override {
    ++calls;
    auto r = answers.front();
    if (answers.size() > 1) answers.pop_front();
    co_return r;
  }
};

snapshot creds_until(std::string key, time_point expiry) {
  return snapshot{{std::move(key), "secret", "token"}, "scripted", expiry};
}

struct harness {
  asio::io_context ioc;
  credential_store store;
  obs::registry registry;
  refresher_metrics metrics{registry};
  time_point now = t0;
  scripted_provider* source;
  std::unique_ptr<refresher> r;

  explicit harness(std::deque<fetch_result> answers) {
    auto p = std::make_unique<scripted_provider>();
    p->answers = std::move(answers);
    source = p.get();
    r = std::make_unique<refresher>(
        ioc.get_executor(), std::move(p), store, &metrics, [this] { return now; },
        // The fake sleep moves the clock instead of waiting, and ends the run at stop_at.
        [this](time_point until) -> asio::awaitable<void> {
          if (until >= stop_at) {
            now = stop_at;
            r->stop();
          } else if (until > now) {
            now = until;
          }
          co_return;
        });
  }
  bool refresh() {
    bool ok = false;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { ok = co_await r->refresh_now(); }, asio::detached);
    ioc.run();
    ioc.restart();
    return ok;
  }
  // Runs the background loop until the clock reaches `until`.
  void run_until(time_point until) {
    stop_at = until;
    asio::co_spawn(ioc, r->run(), asio::detached);
    ioc.run();
    ioc.restart();
  }
  time_point stop_at = time_point::max();
};

TEST(refresher, publishes_refreshes_before_expiry_and_rotates) {
  harness h({fetch_result::ok(creds_until("AKID1", t0 + 1h)), fetch_result::ok(creds_until("AKID2", t0 + 2h))});
  ASSERT_TRUE(h.refresh());
  EXPECT_EQ(h.store.current()->creds.access_key_id, "AKID1");
  EXPECT_LE(h.r->next_attempt(), t0 + 55min);
  EXPECT_GE(h.r->next_attempt(), t0 + 54min);
  h.run_until(t0 + 56min);
  EXPECT_EQ(h.source->calls, 2);
  EXPECT_EQ(h.store.current()->creds.access_key_id, "AKID2");
  auto text = h.registry.render();
  EXPECT_NE(text.find("sigv4_sidecar_credential_refreshes_total{provider=\"scripted\",result=\"success\",identity=\"base\"} 2"),
            std::string::npos);
}

TEST(refresher, failure_keeps_valid_credentials_then_expires_then_recovers) {
  harness h({fetch_result::ok(creds_until("AKID1", t0 + 10min)), fetch_result::fail("imds: timed out")});
  ASSERT_TRUE(h.refresh());
  // The source fails from now on: AKID1 stays published while valid; retries keep coming.
  h.run_until(t0 + 9min);
  EXPECT_EQ(h.store.current()->creds.access_key_id, "AKID1");
  EXPECT_GT(h.r->consecutive_failures(), 3);
  EXPECT_EQ(h.r->last_error(), "imds: timed out");
  // Past expiry the snapshot is expired: the proxy refuses it (503) with the refresher's reason.
  h.run_until(t0 + 12min);
  EXPECT_LE(*h.store.current()->expiration, h.now);
  EXPECT_EQ(h.store.unavailable_reason(), "imds: timed out");
  // The source comes back.
  h.source->answers = {fetch_result::ok(creds_until("AKID3", t0 + 2h))};
  h.run_until(h.r->next_attempt() + 1s);
  EXPECT_EQ(h.store.current()->creds.access_key_id, "AKID3");
  EXPECT_EQ(h.r->consecutive_failures(), 0);
  auto text = h.registry.render();
  EXPECT_NE(text.find("result=\"failure\""), std::string::npos);
}

TEST(refresher, concurrent_refreshes_share_one_fetch) {
  struct slow_provider : provider {
    asio::io_context& ioc;
    int calls = 0;
    explicit slow_provider(asio::io_context& c) : ioc(c) {}
    std::string_view name() const override { return "slow"; }
    asio::awaitable<fetch_result> fetch() override {
      ++calls;
      asio::steady_timer t(ioc, milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
      co_return fetch_result::ok(snapshot{{"AKID", "s", ""}, "slow", std::nullopt});
    }
  };
  asio::io_context ioc;
  credential_store store;
  auto p = std::make_unique<slow_provider>(ioc);
  auto* raw = p.get();
  refresher r(ioc.get_executor(), std::move(p), store, nullptr);
  int ok = 0;
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { ok += co_await r.refresh_now(); }, asio::detached);
  }
  ioc.run();
  EXPECT_EQ(raw->calls, 1);
  EXPECT_EQ(ok, 5);
}

// A fake HTTP function: answers by method and URL from a table, and records what it was asked.
struct fake_http {
  std::map<std::string, http_response> routes;  // "PUT http://x/latest/api/token"
  std::vector<http_request> seen;
  http_fn fn() {
    return [this](http_request r) -> asio::awaitable<http_response> {
      seen.push_back(r);
      auto it = routes.find(r.method + " " + r.url);
      if (it == routes.end()) co_return http_response{404, {}, {}, "not found"};
      co_return it->second;
    };
  }
};

template <class P>
fetch_result run_fetch(P& p) {
  asio::io_context ioc;
  fetch_result out;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { out = co_await p.fetch(); }, asio::detached);
  ioc.run();
  return out;
}

const std::string creds_json =
    R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAFAKE","SecretAccessKey":"sec","Token":"tok",)"
    R"("Expiration":"2026-11-27T18:00:00Z"})";

TEST(imds_provider, token_then_role_then_credentials_and_token_reuse) {
  fake_http http;
  const std::string e = "http://127.0.0.1:1";
  http.routes["PUT " + e + "/latest/api/token"] = {200, {}, {}, "TOKEN"};
  http.routes["GET " + e + "/latest/meta-data/iam/security-credentials/"] = {200, {}, {}, "my-role\n"};
  http.routes["GET " + e + "/latest/meta-data/iam/security-credentials/my-role"] = {200, {}, {}, creds_json};
  imds_settings s;
  s.endpoint = e;
  time_point now = t0;
  imds_provider p(s, http.fn(), [&] { return now; });
  auto r = run_fetch(p);
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(r.creds->creds.access_key_id, "ASIAFAKE");
  EXPECT_EQ(r.creds->creds.session_token, "tok");
  EXPECT_EQ(*r.creds->expiration, system_clock::time_point(sys_days{2026y / 11 / 27} + 18h));
  ASSERT_EQ(http.seen.size(), 3u);
  EXPECT_EQ(http.seen[1].headers.at(0), (std::pair<std::string, std::string>{"X-aws-ec2-metadata-token", "TOKEN"}));
  EXPECT_EQ(http.seen[0].headers.at(0).first, "X-aws-ec2-metadata-token-ttl-seconds");
  run_fetch(p);
  EXPECT_EQ(http.seen.size(), 5u);  // the token was reused
  now += 6h;
  run_fetch(p);
  EXPECT_EQ(http.seen.size(), 8u);  // near its TTL: a new token first
}

TEST(imds_provider, no_v1_fallback_unless_asked_and_disabled_by_env) {
  fake_http http;
  imds_settings s;
  s.endpoint = "http://127.0.0.1:1";
  imds_provider p(s, http.fn(), [] { return t0; });
  auto r = run_fetch(p);
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.applies);
  EXPECT_NE(r.reason.find("token"), std::string::npos);
  EXPECT_EQ(http.seen.size(), 1u);  // no IMDSv1 request followed
  auto env = [](const char* n) -> const char* {
    return std::string_view(n) == "AWS_EC2_METADATA_DISABLED" ? "TRUE" : nullptr;
  };
  imds_provider off(imds_settings::from_env(env), http.fn(), [] { return t0; });
  EXPECT_FALSE(run_fetch(off).applies);
}

TEST(container_provider, full_uri_with_token_file_and_http_rules) {
  fake_http http;
  http.routes["GET http://127.0.0.1:9/creds"] = {200, {}, {}, creds_json};
  std::string token_file = testing::TempDir() + "/token";
  { std::ofstream(token_file) << "secret-token\n"; }
  std::map<std::string, std::string> vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds"},
                                             {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file}};
  auto env = env_over(vars);
  container_provider p(env, http.fn());
  auto r = run_fetch(p);
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(http.seen[0].headers.at(0), (std::pair<std::string, std::string>{"Authorization", "secret-token"}));
  // The token file is re-read on every fetch.
  { std::ofstream(token_file) << "rotated\n"; }
  run_fetch(p);
  EXPECT_EQ(http.seen[1].headers.at(0).second, "rotated");

  vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/creds"}};
  auto bad = run_fetch(p);
  EXPECT_TRUE(bad.applies);
  EXPECT_FALSE(bad.creds);
  EXPECT_NE(bad.reason.find("plain http only"), std::string::npos);
  vars = {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"}};
  bool configured = false;
  std::string why;
  EXPECT_EQ(container_provider::endpoint(env, why, configured), "http://169.254.170.2/v2/credentials/abc");
  vars.clear();
  EXPECT_FALSE(run_fetch(p).applies);
}

TEST(chain, first_applicable_provider_decides_and_reasons_are_kept) {
  fake_http http;  // nothing answers: IMDS fails
  std::map<std::string, std::string> vars = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"}};
  auto env = env_over(vars);
  auto chain = default_chain(env, http.fn(), [] { return t0; });
  auto r = run_fetch(*chain);
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason.rfind("imds: ", 0), 0u) << r.reason;
  // botocore's order: environment, a profile that assumes a role, web identity, the profile's own keys or
  // process, the container endpoint, IMDS.
  ASSERT_EQ(chain->decisions().size(), 6u);
  EXPECT_EQ(chain->decisions()[0].rfind("environment: skipped", 0), 0u);
  EXPECT_EQ(chain->decisions()[1].rfind("profile_assume_role: skipped", 0), 0u);
  EXPECT_EQ(chain->decisions()[2].rfind("web_identity: skipped", 0), 0u);
  EXPECT_EQ(chain->decisions()[3].rfind("profile: skipped", 0), 0u);
  EXPECT_EQ(chain->decisions()[4].rfind("container: skipped", 0), 0u);
  EXPECT_EQ(chain->decisions()[5].rfind("imds: failed", 0), 0u);
  vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  vars["AWS_SECRET_ACCESS_KEY"] = "s";
  auto env_wins = run_fetch(*chain);
  ASSERT_TRUE(env_wins.creds);
  EXPECT_EQ(env_wins.creds->provider, "environment");
  EXPECT_EQ(chain->decisions().size(), 1u);
}

TEST(json_credentials, errors_never_carry_the_secret) {
  std::string err;
  EXPECT_FALSE(parse_json_credentials(R"({"SecretAccessKey":"TOPSECRET"})", "x", err));
  EXPECT_EQ(err.find("TOPSECRET"), std::string::npos);
  EXPECT_FALSE(parse_json_credentials(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"no"})", "x", err));
  EXPECT_NE(err.find("AssumeRoleUnauthorizedAccess"), std::string::npos);
  EXPECT_TRUE(parse_rfc3339("2026-11-27T18:00:00.123Z"));
  EXPECT_TRUE(parse_rfc3339("2026-11-27T18:00:00+00:00"));
  EXPECT_FALSE(parse_rfc3339("tomorrow"));
  // Outside system_clock's range (1678 to 2262): refused, not overflowed (creds_json_fuzz).
  EXPECT_FALSE(parse_rfc3339("1013-11-27T18:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  EXPECT_TRUE(parse_rfc3339("1678-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2262-04-11T23:47:16Z"));
  EXPECT_FALSE(parse_rfc3339("2262-04-11T23:47:17Z"));
  EXPECT_FALSE(parse_json_credentials(
      R"({"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"0001-01-01T00:00:00Z"})", "x", err));
}

TEST(chain, partial_environment_credentials_stop_the_chain_and_the_legacy_token_name_counts) {
  fake_http http;
  std::map<std::string, std::string> vars = {{"AWS_ACCESS_KEY_ID", "AKIDPARTIAL"},
                                             {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto env = env_over(vars);
  auto chain = default_chain(env, http.fn(), [] { return t0; });
  // botocore: PartialCredentialsError, not a quiet fall-through to the next identity.
  auto r = run_fetch(*chain);
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (partial credentials)");
  EXPECT_EQ(chain->decisions().size(), 1u);
  vars["AWS_SECRET_ACCESS_KEY"] = "s";
  vars["AWS_SECURITY_TOKEN"] = "legacy-token";
  auto ok = run_fetch(*chain);
  ASSERT_TRUE(ok.creds);
  EXPECT_EQ(ok.creds->creds.session_token, "legacy-token");
  vars["AWS_SESSION_TOKEN"] = "current-token";
  EXPECT_EQ(run_fetch(*chain).creds->creds.session_token, "current-token");
}

}  // namespace
}  // namespace sigv4::creds
