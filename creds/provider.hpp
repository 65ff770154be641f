#pragma once
// One interface for every credential source. A provider either does not apply here (its environment
// variables or files are absent: the chain moves on and says why at debug), or it fetches credentials, or it
// fails with a reason that names the provider, the endpoint, the HTTP status and any STS error code.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "creds/store.hpp"
#include "net/http_client.hpp"

namespace sigv4::creds {

using clock_fn = std::function<std::chrono::system_clock::time_point()>;
using env_fn = std::function<const char*(const char*)>;

struct fetch_result {
  std::shared_ptr<const snapshot> creds;  // set on success
  bool applies = true;                    // false: not configured here; `reason` says why it was skipped
  std::string reason;                     // why it was skipped or why it failed

  static fetch_result skip(std::string why) { return {nullptr, false, std::move(why)}; }
  static fetch_result fail(std::string why) { return {nullptr, true, std::move(why)}; }
  static fetch_result ok(snapshot s) { return {std::make_shared<const snapshot>(std::move(s)), true, {}}; }
};

class provider {
 public:
  virtual ~provider() = default;
  virtual std::string_view name() const = 0;
  virtual boost::asio::awaitable<fetch_result> fetch() = 0;
};

// The HTTP a provider needs (IMDS, container endpoint, STS), taken from outside so tests can swap it.
using http_request = net::http_request;
using http_response = net::http_response;
using http_fn = std::function<boost::asio::awaitable<http_response>(http_request)>;

}  // namespace sigv4::creds
