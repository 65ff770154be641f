#include "signer/canonical.hpp"

#include <algorithm>

namespace sigv4 {
namespace {

constexpr bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

constexpr int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char upper_hex[] = "0123456789ABCDEF";

void append_escape(std::string& out, unsigned char c) {
  out += '%';
  out += upper_hex[c >> 4];
  out += upper_hex[c & 0xf];
}

constexpr bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// S3 signs the path as sent: valid escapes stay (hex upper-cased), unreserved bytes and `/` stay, anything a
// client should have escaped is escaped.
void append_s3_path(std::string& out, std::string_view path) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    auto c = static_cast<unsigned char>(path[i]);
    if (c == '%' && path.size() - i >= 3 && hex_value(path[i + 1]) >= 0 && hex_value(path[i + 2]) >= 0) {
      append_escape(out, static_cast<unsigned char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2])));
      i += 2;
    } else if (is_unreserved(c) || c == '/') {
      out += static_cast<char>(c);
    } else {
      append_escape(out, c);
    }
  }
}

}  // namespace

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void append_uri_encoded(std::string& out, std::string_view in, bool keep_slash) {
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      append_escape(out, c);
    }
  }
}

std::string uri_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && in.size() - i >= 3) {
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

// RFC 3986 section 5.2.4, plus the AWS rule that empty segments (`//`) are dropped. A trailing `/` survives
// unless nothing is left, so "/a/b/" stays "/a/b/" and "/a/.." becomes "/".
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = end + 1;
  }
  std::string out;
  out.reserve(path.size());
  if (path.front() == '/') out += '/';
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i != 0) out += '/';
    out += segments[i];
  }
  if (path.back() == '/' && !segments.empty()) out += '/';
  if (out.empty()) out.push_back('/');  // not `= "/"`: GCC 12 warns -Wrestrict on it (bug 105329)
  return out;
}

void append_canonical_path(std::string& out, std::string_view wire_path, path_rule rule) {
  if (wire_path.empty()) {
    out += '/';
    return;
  }
  std::string normalized;
  if (rule.normalize) {
    normalized = normalize_path(wire_path);
    wire_path = normalized;
  }
  if (rule.double_encode) {
    append_uri_encoded(out, wire_path, true);
  } else {
    append_s3_path(out, wire_path);
  }
}

void append_canonical_query(std::string& out, std::string_view wire_query, std::span<const query_param> extra) {
  std::vector<std::pair<std::string, std::string>> params;
  params.reserve(extra.size() + 4);
  auto add = [&params](std::string_view key, std::string_view value) {
    auto& [k, v] = params.emplace_back();
    append_uri_encoded(k, key, false);
    append_uri_encoded(v, value, false);
  };
  std::size_t start = 0;
  while (start < wire_query.size()) {
    auto end = wire_query.find('&', start);
    if (end == std::string_view::npos) end = wire_query.size();
    auto pair = wire_query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = pair.substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    add(uri_decode(key), uri_decode(value));
  }
  for (const auto& [k, v] : extra) add(k, v);
  std::sort(params.begin(), params.end());
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i != 0) out += '&';
    out += params[i].first;
    out += '=';
    out += params[i].second;
  }
}

void append_trimmed_value(std::string& out, std::string_view value) {
  bool pending_space = false;
  bool any = false;
  for (char c : value) {
    if (is_blank(c)) {
      pending_space = any;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    any = true;
    out += c;
  }
}

canonical_headers build_canonical_headers(std::span<const header> request_headers, const header_policy& policy,
                                          std::span<const header> added) {
  struct entry {
    std::string name;
    std::string_view value;
    std::size_t order;  // keeps repeated headers in wire order through the sort
  };
  std::vector<entry> entries;
  entries.reserve(request_headers.size() + added.size());
  std::size_t order = 0;
  for (const auto& h : request_headers) {
    std::string name = to_lower(h.name);
    if (policy.should_sign(name)) entries.push_back({std::move(name), h.value, order++});
  }
  for (const auto& h : added) entries.push_back({to_lower(h.name), h.value, order++});
  std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) {
    return a.name != b.name ? a.name < b.name : a.order < b.order;
  });

  canonical_headers result;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bool continues = i != 0 && entries[i].name == entries[i - 1].name;
    if (continues) {
      result.block += ',';
    } else {
      if (i != 0) {
        result.block += '\n';
        result.signed_headers += ';';
      }
      result.block += entries[i].name;
      result.block += ':';
      result.signed_headers += entries[i].name;
    }
    append_trimmed_value(result.block, entries[i].value);
  }
  if (!entries.empty()) result.block += '\n';
  return result;
}

}  // namespace sigv4
