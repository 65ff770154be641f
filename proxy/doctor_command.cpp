#include "proxy/doctor_command.hpp"

#include <boost/asio/ssl/context.hpp>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "proxy/credentials.hpp"
#include "signer/time.hpp"

namespace sigv4::app {
namespace asio = boost::asio;
using sys_clock = std::chrono::system_clock;

namespace {

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
  auto ours = std::chrono::floor<std::chrono::seconds>(received);
  double d = static_cast<double>((*server - ours).count());
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

  out << "credentials (source: " << cfg.credentials.source
      << (cfg.credentials.role_arn.empty() ? "" : ", then AssumeRole " + cfg.credentials.role_arn) << ")\n";
  auto base = make_base_provider(cfg, env, http);
  if (!base.provider) {
    out << "  error: " << base.error << '\n';
    return 1;
  }
  // One fetch, exactly as the proxy's refresher makes it; the chain then tells every provider's decision.
  auto fetched = run_blocking(base.provider->fetch());
  if (base.chain != nullptr) {
    for (const auto& d : base.chain->decisions()) out << "  " << d << '\n';
  }
  if (!fetched.creds) {
    out << "  FAILED: " << fetched.reason << '\n';
    out << "result: no usable credentials; the proxy would answer 503 to every request\n";
    return 1;
  }
  const auto& c = *fetched.creds;
  auto now = sys_clock::now();
  out << "  provider: " << c.provider << '\n';
  out << "  access key id: ****" << creds::access_key_suffix(c.creds) << '\n';
  out << "  session token: " << (c.creds.session_token.empty() ? "none" : "present") << '\n';
  if (c.expiration) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(*c.expiration - now).count();
    out << "  expires: " << format_iso8601(std::chrono::floor<std::chrono::seconds>(*c.expiration)) << " (in "
        << left / 60 << "m" << left % 60 << "s)\n";
    if (left <= 0) ++problems;
  } else {
    out << "  expires: never (long-lived keys)\n";
  }

  auto sts = make_sts_client(cfg, env, http, {});
  auto who = run_blocking(sts.get_caller_identity(c.creds));
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
        net::make_client_tls_context(net::tls_settings::server_auth(cfg.tls.ca_file, !cfg.tls.insecure_skip_verify)));
  } catch (const std::exception& e) {
    out << "TLS setup failed: " << e.what() << '\n';
    return 1;
  }
  for (const auto& r : cfg.routes) {
    out << "route " << r.name << " -> " << r.upstream.scheme << "://" << r.upstream.host_header()
        << r.upstream.target << " (region " << r.sigv4.region << ", service " << r.sigv4.service << ")\n";
    if (!r.sigv4.role_arn.empty()) {
      // As the proxy's route refresher does it: its STS region, the credentials block's session and duration.
      auto route_sts = make_sts_client(cfg, env, http, r.sigv4.region);
      auto params = role_params(cfg.credentials, r.sigv4.role_arn, r.sigv4.external_id);
      auto assumed = run_blocking(route_sts.assume_role(c.creds, params, "assume_role"));
      if (assumed.creds) {
        out << "  role: assumed " << r.sigv4.role_arn << " as " << assumed.arn << " (key ****"
            << creds::access_key_suffix(assumed.creds->creds) << ")\n";
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
    auto answer = run_blocking(net::fetch(std::move(req), upstream_tls.get(), 64 * 1024));
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
