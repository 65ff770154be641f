#include "signer/header_policy.hpp"

#include <algorithm>
#include <array>

#include "signer/canonical.hpp"

namespace sigv4 {
namespace {

// proxy-* and x-forwarded-* are matched by prefix below.
constexpr std::array<std::string_view, 9> never_signed = {
    "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "expect",
    "x-amzn-trace-id"};

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

header_policy header_policy::defaults() { return header_policy{}; }

header_policy header_policy::all() {
  header_policy p;
  p.sign_all_ = true;
  return p;
}

header_policy& header_policy::also_sign(std::string_view name) {
  extra_.push_back(to_lower(name));
  return *this;
}

header_policy& header_policy::never_sign(std::string_view name) {
  denied_.push_back(to_lower(name));
  return *this;
}

bool header_policy::always_excluded(std::string_view n) {
  if (std::find(never_signed.begin(), never_signed.end(), n) != never_signed.end()) return true;
  return n.starts_with("proxy-") || n.starts_with("x-forwarded-");
}

bool header_policy::should_sign(std::string_view n) const {
  if (always_excluded(n) || contains(denied_, n)) return false;
  if (sign_all_) return true;
  if (n == "host" || n == "content-type" || n == "content-encoding" || n.starts_with("x-amz-")) return true;
  return contains(extra_, n);
}

}  // namespace sigv4
