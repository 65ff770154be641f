#include "creds/chain.hpp"

#include <type_traits>
#include <variant>

#include "creds/container_provider.hpp"
#include "creds/environment.hpp"
#include "creds/imds_provider.hpp"
#include "creds/process_provider.hpp"
#include "creds/profile_file.hpp"
#include "creds/sts.hpp"
#include "obs/log.hpp"

namespace sigv4::creds {
namespace {
namespace asio = boost::asio;

class environment_provider : public provider {
 public:
  explicit environment_provider(env_fn env) : env_(std::move(env)) {}
  std::string_view name() const override { return "environment"; }
  asio::awaitable<fetch_result> fetch() override {
    auto c = from_environment([this](const char* n) { return env_(n); });
    if (!c) {
      // botocore: an access key id without its secret stops the chain (PartialCredentialsError) rather
      // than quietly signing as whatever identity comes next.
      const char* id = env_("AWS_ACCESS_KEY_ID");
      if (id != nullptr && *id != '\0') {
        co_return fetch_result::fail("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (partial credentials)");
      }
      co_return fetch_result::skip("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
    }
    co_return fetch_result::ok(snapshot{*c, "environment", std::nullopt});
  }

 private:
  env_fn env_;
};

// Keys written in a profile: they never change while the file does not.
class fixed_provider : public provider {
 public:
  explicit fixed_provider(snapshot s) : s_(std::make_shared<const snapshot>(std::move(s))) {}
  std::string_view name() const override { return "profile"; }
  asio::awaitable<fetch_result> fetch() override { co_return fetch_result{s_, true, {}}; }

 private:
  std::shared_ptr<const snapshot> s_;
};

class store_provider : public provider {
 public:
  store_provider(const credential_store& store, std::string name) : store_(store), name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  asio::awaitable<fetch_result> fetch() override {
    auto c = store_.current();
    if (!c || c->creds.empty()) co_return fetch_result::fail("no base credentials: " + store_.unavailable_reason());
    co_return fetch_result{c, true, {}};
  }

 private:
  const credential_store& store_;
  std::string name_;
};

// An explicitly chosen source that does not apply here is an error: the user asked for it by name.
class required_provider : public provider {
 public:
  explicit required_provider(std::unique_ptr<provider> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  asio::awaitable<fetch_result> fetch() override {
    auto r = co_await inner_->fetch();
    if (!r.applies) {
      r = fetch_result::fail(std::string(inner_->name()) + " was chosen but is not configured: " + r.reason);
    }
    co_return r;
  }

 private:
  std::unique_ptr<provider> inner_;
};

std::optional<std::string> env_value(const env_fn& env, const char* name) {
  const char* v = env(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// STS in the configured region, else the environment's, then the profile's, then the proxy's.
sts_client make_sts(const chain_context& ctx, const std::optional<std::string>& profile_region) {
  const std::string& fallback = profile_region && !profile_region->empty() ? *profile_region : ctx.region;
  const std::string region = ctx.sts_region.empty() ? sts_region(ctx.env, fallback) : ctx.sts_region;
  return sts_client(resolve_sts_endpoint(ctx.env, region), ctx.http, ctx.clock);
}

struct loaded_profile {
  profile_files files;
  profile_resolution res;
  std::string name;
  std::string error;  // the files could not be read or parsed
};

loaded_profile load_profile(const chain_context& ctx) {
  loaded_profile out;
  auto f = load_profile_files(ctx.env);
  if (!f.error.empty()) {
    out.error = f.error;
    return out;
  }
  out.files = std::move(f.files);
  if (!ctx.profile.empty()) {
    out.name = ctx.profile;
    out.res = resolve_profile(ctx.profile, out.files, true);
  } else {
    auto chosen = env_string(ctx.env, "AWS_PROFILE");
    out.name = chosen.empty() ? "default" : chosen;
    out.res = resolve_profile(out.files, ctx.env);
  }
  return out;
}

std::unique_ptr<provider> make_imds(const chain_context& ctx) {
  auto settings = imds_settings::from_env(ctx.env);
  settings.v1_fallback = ctx.imds_v1_fallback;
  return std::make_unique<imds_provider>(std::move(settings), ctx.http, ctx.clock);
}

std::unique_ptr<provider> named(named_source n, const chain_context& ctx) {
  switch (n) {
    case named_source::environment:
      return std::make_unique<required_provider>(make_environment_provider(ctx.env));
    case named_source::ec2_instance_metadata:
      return std::make_unique<required_provider>(make_imds(ctx));
    case named_source::ecs_container:
      return std::make_unique<required_provider>(std::make_unique<container_provider>(ctx.env, ctx.http));
  }
  return nullptr;
}

assume_role_params params_of(const std::string& role_arn, const std::optional<std::string>& session) {
  assume_role_params p;
  p.role_arn = role_arn;
  p.role_session_name = session.value_or("");
  return p;
}

// The providers a resolved profile plan stands for: its base, then one AssumeRole per hop.
std::unique_ptr<provider> build_plan(const credential_plan& plan, const chain_context& ctx) {
  std::unique_ptr<provider> p = std::visit(
      [&](const auto& b) -> std::unique_ptr<provider> {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, static_source>) {
          return std::make_unique<fixed_provider>(snapshot{b.creds, "profile", std::nullopt});
        } else if constexpr (std::is_same_v<T, process_source>) {
          process_options o;
          o.profile = plan.base_profile;
          return std::make_unique<process_provider>(b.command, o);
        } else if constexpr (std::is_same_v<T, web_identity_source>) {
          return std::make_unique<web_identity_provider>(b.token_file, params_of(b.role_arn, b.role_session_name),
                                                         make_sts(ctx, plan.region));
        } else {
          return named(b, ctx);
        }
      },
      plan.base);
  for (const auto& hop : plan.hops) {
    auto params = params_of(hop.role_arn, hop.role_session_name);
    params.external_id = hop.external_id;
    params.duration_seconds = hop.duration_seconds;
    p = std::make_unique<assume_role_provider>(std::move(p), std::move(params), make_sts(ctx, plan.region));
  }
  return p;
}

// The profile's two places in the chain: `role_arn` profiles come before web identity (botocore's
// AssumeRoleProvider), static keys and credential_process after it.
class profile_provider : public provider {
 public:
  profile_provider(chain_context ctx, bool roles) : ctx_(std::move(ctx)), roles_(roles) {}
  std::string_view name() const override { return roles_ ? "profile_assume_role" : "profile"; }

  asio::awaitable<fetch_result> fetch() override {
    auto lp = load_profile(ctx_);
    if (!lp.error.empty()) co_return fetch_result::fail(lp.error);
    if (!lp.res.applies) co_return fetch_result::skip(lp.res.reason);
    if (!lp.res.ok()) co_return fetch_result::fail(lp.res.reason);
    const auto& plan = *lp.res.plan;
    const std::string quoted = "profile \"" + plan.profile + "\"";
    if (roles_ && plan.hops.empty()) co_return fetch_result::skip(quoted + " assumes no role");
    if (!roles_ && !plan.hops.empty()) {
      co_return fetch_result::skip(quoted + " assumes a role (see profile_assume_role)");
    }
    if (!roles_ && std::holds_alternative<web_identity_source>(plan.base)) {
      co_return fetch_result::skip(quoted + " uses web identity (see web_identity)");
    }
    auto p = build_plan(plan, ctx_);
    auto r = co_await p->fetch();
    if (r.creds) {
      auto s = *r.creds;
      s.provider = "profile:" + plan.profile + (s.provider == "profile" ? "" : "/" + s.provider);
      r.creds = std::make_shared<const snapshot>(std::move(s));
    } else if (!r.applies) {
      r = fetch_result::fail(quoted + ": " + r.reason);
    } else {
      r.reason = quoted + ": " + r.reason;
    }
    co_return r;
  }

 private:
  chain_context ctx_;
  bool roles_;
};

// IRSA: botocore reads each of token file, role ARN and session name from the environment first, then from
// the profile, key by key.
class web_identity_slot : public provider {
 public:
  explicit web_identity_slot(chain_context ctx) : ctx_(std::move(ctx)) {}
  std::string_view name() const override { return "web_identity"; }

  asio::awaitable<fetch_result> fetch() override {
    const profile_settings* prof = nullptr;
    loaded_profile lp;
    auto need_profile = [&] {
      if (prof != nullptr || !lp.name.empty()) return;
      lp = load_profile(ctx_);
      if (lp.name.empty()) lp.name = "?";
      if (auto it = lp.files.merged.find(lp.name); it != lp.files.merged.end()) prof = &it->second;
    };
    auto get = [&](const char* env_name, const char* key) -> std::optional<std::string> {
      if (auto v = env_value(ctx_.env, env_name)) return v;
      need_profile();
      if (prof != nullptr) {
        if (const auto* v = prof->value(key)) return *v;
      }
      return std::nullopt;
    };
    auto token_file = get("AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file");
    if (!token_file || token_file->empty()) {
      co_return fetch_result::skip(
          "AWS_WEB_IDENTITY_TOKEN_FILE is not set and the profile has no web_identity_token_file");
    }
    auto role = get("AWS_ROLE_ARN", "role_arn");
    if (!role || role->empty()) {
      co_return fetch_result::fail("a web identity token file (" + *token_file +
                                   ") is set but no role: set AWS_ROLE_ARN or the profile's role_arn");
    }
    std::optional<std::string> region;
    if (prof != nullptr) {
      if (const auto* v = prof->value("region")) region = *v;
    }
    web_identity_provider p(*token_file, params_of(*role, get("AWS_ROLE_SESSION_NAME", "role_session_name")),
                            make_sts(ctx_, region));
    co_return co_await p.fetch();
  }

 private:
  chain_context ctx_;
};

// The profile as one explicit source: whichever of its two places applies.
std::unique_ptr<provider> profile_source(const chain_context& ctx) {
  std::vector<std::unique_ptr<provider>> ps;
  ps.push_back(std::make_unique<profile_provider>(ctx, true));
  ps.push_back(std::make_unique<web_identity_slot>(ctx));
  ps.push_back(std::make_unique<profile_provider>(ctx, false));
  return std::make_unique<chain_provider>(std::move(ps));
}

}  // namespace

std::unique_ptr<provider> make_environment_provider(env_fn env) {
  return std::make_unique<environment_provider>(std::move(env));
}

std::unique_ptr<provider> make_store_provider(const credential_store& store, std::string name) {
  return std::make_unique<store_provider>(store, std::move(name));
}

chain_provider::chain_provider(std::vector<std::unique_ptr<provider>> providers) : providers_(std::move(providers)) {}

asio::awaitable<fetch_result> chain_provider::fetch() {
  decisions_.clear();
  for (auto& p : providers_) {
    fetch_result r = co_await p->fetch();
    if (!r.applies) {
      decisions_.push_back(std::string(p->name()) + ": skipped (" + r.reason + ")");
      obs::debug("credential provider skipped", {{"provider", p->name()}, {"why", r.reason}});
      continue;
    }
    decisions_.push_back(std::string(p->name()) + (r.creds ? ": used" : ": failed (" + r.reason + ")"));
    if (r.creds) obs::debug("credential provider chosen", {{"provider", p->name()}});
    if (!r.creds) r.reason = std::string(p->name()) + ": " + r.reason;
    co_return r;
  }
  // Every reason, so that the one line in the log (or the 503 body) says where the operator should look.
  std::string why = "no AWS credentials found";
  for (std::size_t i = 0; i < decisions_.size(); ++i) why += (i == 0 ? ": " : "; ") + decisions_[i];
  co_return fetch_result::fail(why);
}

std::unique_ptr<chain_provider> default_chain(chain_context ctx) {
  std::vector<std::unique_ptr<provider>> ps;
  ps.push_back(make_environment_provider(ctx.env));
  ps.push_back(std::make_unique<profile_provider>(ctx, true));
  ps.push_back(std::make_unique<web_identity_slot>(ctx));
  ps.push_back(std::make_unique<profile_provider>(ctx, false));
  ps.push_back(std::make_unique<container_provider>(ctx.env, ctx.http));
  ps.push_back(make_imds(ctx));
  return std::make_unique<chain_provider>(std::move(ps));
}

std::unique_ptr<chain_provider> default_chain(const env_fn& env, http_fn http, clock_fn clock) {
  return default_chain(chain_context{env, std::move(http), std::move(clock), {}, {}, false, {}});
}

std::unique_ptr<provider> make_source(std::string_view source, chain_context ctx, std::string& error) {
  if (source == "default") return default_chain(std::move(ctx));
  if (source == "environment") return named(named_source::environment, ctx);
  if (source == "profile") return std::make_unique<required_provider>(profile_source(ctx));
  if (source == "web_identity") return std::make_unique<required_provider>(std::make_unique<web_identity_slot>(ctx));
  if (source == "container") return named(named_source::ecs_container, ctx);
  if (source == "imds") return named(named_source::ec2_instance_metadata, ctx);
  error = "unknown credentials source \"" + std::string(source) + "\"";
  return nullptr;
}

}  // namespace sigv4::creds
