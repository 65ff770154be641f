#include "proxy/doctor_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_future.hpp>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "creds/chain.hpp"
#include "creds/sts.hpp"
#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "proxy/credentials.hpp"

namespace sigv4::app {
namespace asio = boost::asio;
using sys_clock = std::chrono::system_clock;

std::optional<long long> parse_http_date(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  auto day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == months[i]) month = i + 1;
  }
  if (!day || !year || !hh || !mm || !ss || month == 0 || s[16] != ' ' || s[19] != ':' || s[22] != ':') {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(*year), std::chrono::month(month),
                                  std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok() || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  auto t = std::chrono::sys_days(ymd) + std::chrono::hours(*hh) + std::chrono::minutes(*mm) +
           std::chrono::seconds(*ss);
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

namespace {

template <class T>
T run_sync(asio::awaitable<T> a) {
  asio::io_context ioc;
  auto f = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return f.get();
}

std::string iso(sys_clock::time_point t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto days = std::chrono::floor<std::chrono::days>(secs);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{secs - days};
  char buf[64];  // room for any year GCC can imagine (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long long>(hms.hours().count()), static_cast<long long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return buf;
}

std::string suffix4(const std::string& id) { return "****" + (id.size() > 4 ? id.substr(id.size() - 4) : id); }

// Clock skew against a Date header: the server's time minus ours, at the moment the answer arrived, to the
// second (a Date has whole seconds).
struct skew_check {
  std::string text;
  bool bad = false;
};
skew_check skew(const std::string& date_header, sys_clock::time_point received) {
  if (date_header.empty()) return {"no Date header to compare with", false};
  auto server = parse_http_date(date_header);
  if (!server) return {"unparsable Date header \"" + date_header + "\"", false};
  // The Date header truncates to the second: compare it with our clock truncated the same way, so equal
  // clocks read 0 (give or take the one second a transit may cross).
  auto ours = std::chrono::floor<std::chrono::seconds>(received).time_since_epoch().count();
  double d = static_cast<double>(*server - ours);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%+.1f s (the server's clock minus ours)", d);
  // SigV4 signatures are accepted within 5 minutes of the server's clock.
  bool bad = std::fabs(d) > 240;
  return {std::string(buf) + (bad ? ": TOO LARGE, AWS rejects signatures more than 5 minutes off; fix NTP" : ""),
          bad};
}

}  // namespace

int run_doctor(std::span<const std::string_view> args, std::ostream& out, const env_lookup& env) {
  // With no arguments there are no routes to check, only credentials and identity.
  auto res = args.empty() ? cli_result{config{}, {}, {}} : config_from_args(args, env);
  if (!res.cfg) {
    out << format_errors(res.errors, res.config_path.empty() ? "sigv4-sidecar doctor" : res.config_path);
    return 2;
  }
  const config& cfg = *res.cfg;
  int problems = 0;
  auto http = make_credentials_http(cfg.tls);
  auto clock = [] { return sys_clock::now(); };

  out << "credentials (source: " << cfg.credentials.source
      << (cfg.credentials.role_arn.empty() ? "" : ", then AssumeRole " + cfg.credentials.role_arn) << ")\n";
  // The chain on its own first, to show every provider's decision.
  creds::chain_context ctx{env, http, clock, {}, cfg.credentials.profile, cfg.credentials.imds_v1_fallback};
  for (const auto& r : cfg.routes) {
    if (ctx.region.empty()) ctx.region = r.sigv4.region;
  }
  if (cfg.credentials.source == "default") {
    auto chain = creds::default_chain(ctx);
    run_sync(chain->fetch());
    for (const auto& d : chain->decisions()) out << "  " << d << '\n';
  }
  std::string error;
  auto base = make_base_provider(cfg, env, http, error);
  if (!base) {
    out << "  error: " << error << '\n';
    return 1;
  }
  auto fetched = run_sync(base->fetch());
  if (!fetched.creds) {
    out << "  FAILED: " << fetched.reason << '\n';
    out << "result: no usable credentials; the proxy would answer 503 to every request\n";
    return 1;
  }
  const auto& c = *fetched.creds;
  auto now = sys_clock::now();
  out << "  provider: " << c.provider << '\n';
  out << "  access key id: " << suffix4(c.creds.access_key_id) << '\n';
  out << "  session token: " << (c.creds.session_token.empty() ? "none" : "present") << '\n';
  if (c.expiration) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(*c.expiration - now).count();
    out << "  expires: " << iso(*c.expiration) << " (in " << left / 60 << "m" << left % 60 << "s)\n";
    if (left <= 0) ++problems;
  } else {
    out << "  expires: never (long-lived keys)\n";
  }

  auto sts_region = cfg.credentials.sts_region;
  if (sts_region.empty()) sts_region = ctx.region;
  creds::sts_client sts(creds::resolve_sts_endpoint(env, sts_region), http, clock);
  auto who = run_sync(sts.get_caller_identity(c.creds));
  out << "identity (STS GetCallerIdentity at " << sts.endpoint().url << ")\n";
  if (who.error.empty()) {
    out << "  arn: " << who.arn << '\n';
    if (!who.account.empty()) out << "  account: " << who.account << '\n';
    auto sk = skew(who.date_header, sys_clock::now());
    out << "  clock skew vs STS: " << sk.text << '\n';
    problems += sk.bad;
  } else {
    out << "  FAILED: " << who.error << '\n';
    ++problems;
  }

  std::unique_ptr<asio::ssl::context> upstream_tls;
  try {
    upstream_tls = std::make_unique<asio::ssl::context>(
        net::make_client_tls_context({.ca_file = cfg.tls.ca_file, .verify = !cfg.tls.insecure_skip_verify}));
  } catch (const std::exception& e) {
    out << "TLS setup failed: " << e.what() << '\n';
    return 1;
  }
  for (const auto& r : cfg.routes) {
    out << "route " << r.name << " -> " << r.upstream.scheme << "://" << r.upstream.host_header()
        << r.upstream.target << " (region " << r.sigv4.region << ", service " << r.sigv4.service << ")\n";
    if (!r.sigv4.role_arn.empty()) {
      creds::assume_role_params p;
      p.role_arn = r.sigv4.role_arn;
      p.role_session_name = cfg.credentials.session_name;
      if (!r.sigv4.external_id.empty()) p.external_id = r.sigv4.external_id;
      auto assumed = run_sync(sts.assume_role(c.creds, p, "assume_role"));
      if (assumed.creds) {
        out << "  role: assumed " << r.sigv4.role_arn << " as " << assumed.arn << " (key "
            << suffix4(assumed.creds->creds.access_key_id) << ")\n";
      } else {
        out << "  role: FAILED: " << assumed.error << '\n';
        ++problems;
      }
    }
    // Reachability: an unsigned GET of the upstream URL. Any HTTP answer (403 included) proves the network
    // path and TLS; its Date header gives the skew against the service itself.
    std::string url = r.upstream.scheme + "://" + (r.connect_to.empty() ? r.upstream.host_header() : r.connect_to) +
                      r.upstream.target;
    net::http_request req{.method = "GET", .url = url, .headers = {}, .body = {},
                          .timeout = std::chrono::seconds(5)};
    auto t0 = std::chrono::steady_clock::now();
    auto answer = run_sync(net::fetch(std::move(req), upstream_tls.get(), 64 * 1024));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (answer.status == 0) {
      out << "  upstream: UNREACHABLE (" << answer.error << ")\n";
      ++problems;
    } else {
      out << "  upstream: reachable, HTTP " << answer.status << " to an unsigned GET in " << ms << " ms\n";
      auto sk = skew(answer.header("Date"), sys_clock::now());
      out << "  clock skew vs upstream: " << sk.text << '\n';
      problems += sk.bad;
    }
  }
  if (problems == 0) {
    out << "result: OK\n";
    return 0;
  }
  out << "result: " << problems << " problem(s) found\n";
  return 1;
}

}  // namespace sigv4::app
