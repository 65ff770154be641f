// textparse.New's choice of parser: Go's mime.ParseMediaType, as far as that choice depends on it.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "scraper/textparse.hpp"

namespace sigv4::scraper {

namespace {

// Go's unicode.IsSpace, for mime.ParseMediaType's trimming: ASCII white space plus the Unicode spaces, of
// which U+0085 and U+00A0 are 2 bytes in UTF-8 and the rest 3. Returns the length of the space at s[i], 0
// if none.
std::size_t go_space_len(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  if (c == 0xc2 && i + 1 < s.size()) {
    auto d = static_cast<unsigned char>(s[i + 1]);
    return d == 0x85 || d == 0xa0 ? 2 : 0;
  }
  if ((c == 0xe1 || c == 0xe2 || c == 0xe3) && i + 2 < s.size()) {
    auto d = static_cast<unsigned char>(s[i + 1]), e = static_cast<unsigned char>(s[i + 2]);
    std::uint32_t r = (std::uint32_t{c & 0x0fu} << 12) | (std::uint32_t{d & 0x3fu} << 6) | (e & 0x3fu);
    if ((d & 0xc0) != 0x80 || (e & 0xc0) != 0x80) return 0;
    bool space = r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f ||
                 r == 0x205f || r == 0x3000;
    return space ? 3 : 0;
  }
  return 0;
}

std::string_view trim_left(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = go_space_len(s, i);
    if (n == 0) break;
    i += n;
  }
  return s.substr(i);
}

std::string_view trim_right(std::string_view s) {
  // Only ASCII at the right end can matter here: a media type ending in a Unicode space is invalid either
  // way (the space's bytes are not token characters) unless trimmed, so trim those too, from the end.
  for (;;) {
    if (!s.empty() && go_space_len(s, s.size() - 1) == 1) {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && go_space_len(s, s.size() - 2) == 2) {
      s.remove_suffix(2);
    } else if (s.size() >= 3 && go_space_len(s, s.size() - 3) == 3) {
      s.remove_suffix(3);
    } else {
      return s;
    }
  }
}

bool tspecial(char c) {
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos;
}
bool token_char(char c) {
  return c > 0x20 && c < 0x7f && !tspecial(c);
}

std::string_view consume_token(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && token_char(s[n])) ++n;
  auto t = s.substr(0, n);
  s.remove_prefix(n);
  return t;
}

// mime.consumeValue: a token or a quoted string (true: a value was read, possibly an empty quoted one).
bool consume_value(std::string_view& s) {
  if (s.empty()) return false;
  if (s[0] != '"') return !consume_token(s).empty();
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      s.remove_prefix(i + 1);
      return true;
    }
    if (c == '\\' && i + 1 < s.size() && tspecial(s[i + 1])) {
      ++i;
    } else if (c == '\r' || c == '\n') {
      return false;
    }
  }
  return false;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Go's mime.ParseMediaType, reduced to what textparse.New uses: the lower-cased media type, or nullopt on
// any error (then 2.42 falls back to the text format).
std::optional<std::string> parse_media_type(std::string_view v) {
  auto semi = v.find(';');
  std::string_view base = v.substr(0, semi);
  std::string type(trim_right(trim_left(base)));
  std::ranges::transform(type, type.begin(), lower);
  {
    std::string_view t = type;
    if (consume_token(t).empty()) return std::nullopt;
    if (!t.empty()) {
      if (t[0] != '/') return std::nullopt;
      t.remove_prefix(1);
      if (consume_token(t).empty() || !t.empty()) return std::nullopt;
    }
  }
  std::vector<std::string> keys;
  std::string_view rest = semi == std::string_view::npos ? std::string_view{} : v.substr(semi);
  while (!rest.empty()) {
    rest = trim_left(rest);
    if (rest.empty()) break;
    // consumeMediaParam; on failure Go ignores only a lone trailing ';'.
    std::string_view p = rest;
    bool ok = false;
    std::string key;
    if (p[0] == ';') {
      p = trim_left(p.substr(1));
      key = std::string(consume_token(p));
      std::ranges::transform(key, key.begin(), lower);
      if (!key.empty()) {
        p = trim_left(p);
        if (!p.empty() && p[0] == '=') {
          p = trim_left(p.substr(1));
          ok = consume_value(p);
        }
      }
    }
    if (!ok) {
      if (trim_right(trim_left(rest)) == ";") break;
      return std::nullopt;
    }
    if (std::ranges::find(keys, key) != keys.end()) return std::nullopt;  // duplicate parameter name
    keys.push_back(std::move(key));
    rest = p;
  }
  return type;
}

}  // namespace

format format_for_content_type(std::string_view content_type) {
  if (content_type.empty()) return format::text;
  auto type = parse_media_type(content_type);
  return type && *type == "application/openmetrics-text" ? format::openmetrics : format::text;
}

}  // namespace sigv4::scraper
