#include "scraper/aws_errors.hpp"

#include <algorithm>

namespace sigv4::scraper {
namespace {

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

// The string value of "message" / "Message" in a small JSON object, without a JSON library: AWS error bodies
// are flat, and a page that is not JSON simply has no message.
std::string json_message(std::string_view body) {
  for (std::string_view key : {"\"message\"", "\"Message\""}) {
    auto at = body.find(key);
    if (at == std::string_view::npos) continue;
    auto colon = body.find(':', at + key.size());
    if (colon == std::string_view::npos) continue;
    auto q = body.find('"', colon);
    if (q == std::string_view::npos) continue;
    std::string out;
    for (std::size_t i = q + 1; i < body.size(); ++i) {
      char c = body[i];
      if (c == '"') return out;
      if (c == '\\' && i + 1 < body.size()) {
        c = body[++i];
        if (c == 'n' || c == 'r' || c == 't') c = ' ';
      }
      out += c;
    }
  }
  return {};
}

std::string xml_message(std::string_view body) {
  auto open = body.find("<Message>");
  if (open == std::string_view::npos) return {};
  auto close = body.find("</Message>", open);
  if (close == std::string_view::npos) return {};
  return std::string(body.substr(open + 9, close - open - 9));
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Request Entity Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

aws_error explain_aws_error(int status, std::string_view body) {
  aws_error e;
  e.message = json_message(body);
  if (e.message.empty()) e.message = xml_message(body);
  e.message = one_line(e.message);
  const std::string_view m = e.message;
  auto has = [&](std::string_view s) { return m.find(s) != std::string_view::npos; };
  if (has("Missing Authentication Token")) {
    e.hint =
        "no resource at this path or stage (check metrics_path and the stage), or the request was not signed";
  } else if (has("signature we calculated does not match")) {
    e.hint =
        "signed for the wrong region or service, or the path was changed on the way: check sigv4.region and "
        "sigv4.service (execute-api for API Gateway, aps for AMP)";
  } else if (has("Signature expired") || has("Signature not yet current")) {
    e.hint = "this host's clock is off: run `sigv4-sidecar doctor` to see the skew";
  } else if (has("is not authorized to perform")) {
    auto at = m.find("perform: ");
    std::string action = "the action";
    std::string resource = "the resource";
    if (at != std::string_view::npos) {
      auto rest = m.substr(at + 9);
      auto sp = rest.find(' ');
      action = std::string(rest.substr(0, sp));
      auto res = m.find("on resource: ");
      // An ARN has no spaces: what follows it (" with an explicit deny", ...) is not part of the resource.
      if (res != std::string_view::npos) {
        auto arn = m.substr(res + 13);
        resource = std::string(arn.substr(0, arn.find(' ')));
      }
      while (!resource.empty() && (resource.back() == '.' || resource.back() == ' ')) resource.pop_back();
    }
    e.hint =
        has("with an explicit deny")
            ? "a policy (IAM, or the API's resource policy) explicitly denies " + action + " on " + resource
            : "allow " + action + " on " + resource + " in this identity's IAM policy";
  } else if (has("security token included in the request is expired") || has("ExpiredToken")) {
    e.hint = "the credentials expired: they are refreshed and the request is retried";
  } else if (has("security token included in the request is invalid") || has("UnrecognizedClientException")) {
    e.hint =
        "the access key is not known to AWS: check which credentials are used with `sigv4-sidecar doctor`";
  } else if (status == 403 && m.empty()) {
    e.hint = "forbidden without a message: check the target's resource policy";
  }
  return e;
}

std::string describe_http_failure(int status, std::string_view body) {
  std::string out = "server returned HTTP status " + std::to_string(status);
  if (auto r = reason_phrase(status); !r.empty()) {
    out += ' ';
    out += r;
  }
  auto e = explain_aws_error(status, body);
  if (!e.message.empty()) out += ": " + e.message;
  if (!e.hint.empty()) out += " (hint: " + e.hint + ")";
  return out;
}

}  // namespace sigv4::scraper
