#include "creds/chain.hpp"

#include "creds/container_provider.hpp"
#include "creds/environment.hpp"
#include "creds/imds_provider.hpp"
#include "obs/log.hpp"

namespace sigv4::creds {
namespace {

class environment_provider : public provider {
 public:
  explicit environment_provider(env_fn env) : env_(std::move(env)) {}
  std::string_view name() const override { return "environment"; }
  boost::asio::awaitable<fetch_result> fetch() override {
    auto c = from_environment([this](const char* n) { return env_(n); });
    if (!c) co_return fetch_result::skip("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
    co_return fetch_result::ok(snapshot{*c, "environment", std::nullopt});
  }

 private:
  env_fn env_;
};

}  // namespace

std::unique_ptr<provider> make_environment_provider(env_fn env) {
  return std::make_unique<environment_provider>(std::move(env));
}

chain_provider::chain_provider(std::vector<std::unique_ptr<provider>> providers) : providers_(std::move(providers)) {}

boost::asio::awaitable<fetch_result> chain_provider::fetch() {
  decisions_.clear();
  for (auto& p : providers_) {
    fetch_result r = co_await p->fetch();
    if (!r.applies) {
      decisions_.push_back(std::string(p->name()) + ": skipped (" + r.reason + ")");
      obs::debug("credential provider skipped", {{"provider", p->name()}, {"why", r.reason}});
      continue;
    }
    decisions_.push_back(std::string(p->name()) + (r.creds ? ": used" : ": failed (" + r.reason + ")"));
    if (!r.creds) r.reason = std::string(p->name()) + ": " + r.reason;
    co_return r;
  }
  co_return fetch_result::fail("no AWS credentials found: every provider of the default chain was skipped");
}

std::unique_ptr<chain_provider> default_chain(const env_fn& env, http_fn http, clock_fn clock) {
  std::vector<std::unique_ptr<provider>> ps;
  ps.push_back(make_environment_provider(env));
  ps.push_back(std::make_unique<container_provider>(env, http));
  ps.push_back(std::make_unique<imds_provider>(imds_settings::from_env(env), http, clock));
  return std::make_unique<chain_provider>(std::move(ps));
}

}  // namespace sigv4::creds
