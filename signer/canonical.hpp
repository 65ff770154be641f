#pragma once
// The canonicalisation steps of SigV4, each a pure function appending to an output buffer. They are public so
// the tests and the fuzzer can reach each step on its own.
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "signer/header_policy.hpp"
#include "signer/types.hpp"

namespace sigv4 {

// How the canonical URI is formed from the wire path.
//  - Every service but S3: remove `.`, `..` and empty segments (keeping a trailing `/`), then percent-encode
//    the path once more, so an on-the-wire `%2F` becomes `%252F`.
//  - S3: the path is signed as sent; only bytes that may not appear in a wire path are encoded.
struct path_rule {
  bool normalize = true;
  bool double_encode = true;

  static constexpr path_rule standard() { return {true, true}; }
  static constexpr path_rule s3() { return {false, false}; }
};

std::string to_lower(std::string_view s);
// ASCII case-insensitive equality (header names, hosts, tokens).
bool iequals(std::string_view a, std::string_view b);

// RFC 3986 encoding: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); `/` is kept if asked.
void append_uri_encoded(std::string& out, std::string_view in, bool keep_slash);

// Decodes %XX escapes; a `%` not followed by two hex digits is kept literally. `+` is not a space.
std::string uri_decode(std::string_view in);

// Splits a request target into path and query (without the `?`).
std::pair<std::string_view, std::string_view> split_target(std::string_view target);

std::string normalize_path(std::string_view path);
void append_canonical_path(std::string& out, std::string_view wire_path, path_rule rule);

// Canonical query string from a wire query plus parameters the signer adds (already plain, unencoded).
// Each key and value is decoded and re-encoded, then the pairs are sorted by key and by value.
using query_param = std::pair<std::string_view, std::string_view>;
void append_canonical_query(std::string& out, std::string_view wire_query,
                            std::span<const query_param> extra = {});

// Collapses runs of blanks (space, tab, CR, LF) into one space and trims both ends.
void append_trimmed_value(std::string& out, std::string_view value);

struct canonical_headers {
  std::string block;           // "name:value\n" lines, sorted by name, repeated headers joined with ','
  std::string signed_headers;  // "name;name;..."
};

// Headers the policy selects from the request, plus `added` (always signed: X-Amz-Date and friends).
canonical_headers build_canonical_headers(std::span<const header> request_headers, const header_policy& policy,
                                          std::span<const header> added = {});

}  // namespace sigv4
