// libFuzzer target over canonicalisation and signing. Besides "no crash, no sanitizer report", it checks the
// invariants a canonical form must have: output alphabet, idempotence, and trimmed header values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "signer/canonical.hpp"
#include "signer/signer.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using sigv4::fuzz::check;

bool hex_upper(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}
bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Only unreserved bytes, the listed separators and well-formed upper-case escapes.
bool encoded_alphabet(std::string_view s, std::string_view separators) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (s.size() - i < 3) return false;
      if (!hex_upper(s[i + 1]) || !hex_upper(s[i + 2])) return false;
      i += 2;
    } else if (!unreserved(c) && separators.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Three fields separated by NUL: request target, a header value, a header name.
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto end = in.find('\0', start);
    parts.push_back(in.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos || parts.size() == 3) break;
    start = end + 1;
  }
  parts.resize(3);
  std::string_view target = parts[0], value = parts[1], name = parts[2];
  auto [path, query] = sigv4::split_target(target);

  std::string normalized = sigv4::normalize_path(path);
  check(sigv4::normalize_path(normalized) == normalized, "normalize_path is idempotent");
  check(normalized.find("//") == std::string::npos, "normalized path has no empty segment");

  for (auto rule : {sigv4::path_rule::standard(), sigv4::path_rule::s3(), sigv4::path_rule{false, true}}) {
    std::string p;
    sigv4::append_canonical_path(p, path, rule);
    check(!p.empty(), "canonical path is never empty");
    check(encoded_alphabet(p, "/"), "canonical path alphabet");
  }

  std::string q;
  sigv4::append_canonical_query(q, query);
  check(encoded_alphabet(q, "=&"), "canonical query alphabet");
  std::string q2;
  sigv4::append_canonical_query(q2, q);
  check(q2 == q, "canonical query is idempotent");

  std::string t;
  sigv4::append_trimmed_value(t, value);
  check(t.find("  ") == std::string::npos, "no double blanks");
  check(t.find_first_of("\t\r\n") == std::string::npos, "no tabs or line breaks");
  check(t.empty() || (t.front() != ' ' && t.back() != ' '), "trimmed at both ends");

  static const sigv4::signer signer;
  static const sigv4::header_policy policy = sigv4::header_policy::all();
  std::vector<sigv4::header> headers = {
      {"Host", "example.amazonaws.com"}, {name, value}, {"X-Amz-Meta", value}};
  sigv4::credentials creds{"AKIDEXAMPLE", std::string(value.substr(0, 64)), std::string(name)};
  sigv4::signing_params params{.region = "us-east-1",
                               .service = "service",
                               .time = std::chrono::sys_seconds{std::chrono::seconds{1440938160}},
                               .policy = &policy};
  auto r = signer.sign_headers({"GET", target, headers}, creds, params);
  check(r.signature.size() == 64, "signature is 64 hex digits");
  auto presigned = signer.presign({"GET", target, headers}, creds, params, std::chrono::seconds(60));
  check(encoded_alphabet(presigned.query_suffix, "=&"), "presigned suffix alphabet");
  return 0;
}
