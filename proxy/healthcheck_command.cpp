#include "proxy/healthcheck_command.hpp"

#include <chrono>
#include <ostream>
#include <string>
#include <utility>

#include "conf/values.hpp"
#include "net/http_client.hpp"
#include "proxy/credentials.hpp"

namespace sigv4::app {

int run_healthcheck(std::span<const std::string_view> args, std::ostream& err) {
  std::string url(default_healthcheck_url);
  std::chrono::milliseconds timeout{3000};
  bool have_url = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--timeout" && i + 1 < args.size()) {
      auto d = conf::parse_duration(args[++i]);
      if (!d || *d <= std::chrono::milliseconds::zero()) {
        err << "healthcheck: bad --timeout '" << args[i] << "' (a duration such as 2s or 500ms)\n";
        return 2;
      }
      timeout = *d;
    } else if (!have_url && !args[i].starts_with("-")) {
      url = std::string(args[i]);
      have_url = true;
    } else {
      err << "usage: sigv4-sidecar healthcheck [--timeout DUR] [URL]   (default " << default_healthcheck_url
          << ")\n";
      return 2;
    }
  }
  if (!url.starts_with("http://")) {
    err << "healthcheck: " << url << ": only http:// URLs (the admin port speaks plain HTTP)\n";
    return 2;
  }
  net::http_request req;
  req.url = url;
  req.timeout = timeout;
  // No TLS context: the admin endpoints are plain HTTP on a local address.
  auto res = run_blocking(net::fetch(std::move(req), nullptr, 64 * 1024));
  if (res.status == 200) return 0;
  if (res.status == 0) {
    err << "healthcheck: " << url << ": " << res.error << '\n';
    return 1;
  }
  std::string why = res.body.substr(0, res.body.find_first_of("\r\n"));
  err << "healthcheck: " << url << " answered " << res.status << (why.empty() ? "" : ": ") << why << '\n';
  return 1;
}

}  // namespace sigv4::app
