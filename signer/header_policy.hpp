#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace sigv4 {

// Which request headers go into SignedHeaders. Names are compared case-insensitively.
//
// Never signed, whatever the policy: hop-by-hop headers (a proxy may rewrite them), user-agent,
// x-amzn-trace-id and x-forwarded-* (added by intermediaries after signing) and expect.
class header_policy {
 public:
  // host, content-type, content-encoding and every x-amz-* header.
  static header_policy defaults();
  // Every header that is not in the never-signed set (the `sign` subcommand and the test suite use this).
  static header_policy all();

  // Also sign this header (e.g. content-md5, or a custom header an API Gateway authorizer checks).
  header_policy& also_sign(std::string_view name);
  // Never sign this header, even if the policy would otherwise.
  header_policy& never_sign(std::string_view name);

  bool should_sign(std::string_view lower_name) const;

  static bool always_excluded(std::string_view lower_name);

 private:
  bool sign_all_ = false;
  std::vector<std::string> extra_;
  std::vector<std::string> denied_;
};

}  // namespace sigv4
