#pragma once
// What an AWS endpoint means by its 403 (or 400) answer, in the words an operator searches for, with a
// one-line hint: API Gateway answers JSON {"message": ...}, AMP and STS-style services JSON or XML <Message>.
// Pure.
#include <string>
#include <string_view>

namespace sigv4::scraper {

struct aws_error {
  std::string message;  // AWS's own message, verbatim (one line, shortened to 300 bytes); empty if none found
  std::string hint;     // what to check; empty when the message is not one we know
};

aws_error explain_aws_error(int status, std::string_view body);

// "server returned HTTP status 403 Forbidden" (Prometheus' words), plus AWS's message and the hint if any.
std::string describe_http_failure(int status, std::string_view body);

// The status line's reason phrase for common codes ("Forbidden"); "" for others.
std::string_view reason_phrase(int status);

}  // namespace sigv4::scraper
