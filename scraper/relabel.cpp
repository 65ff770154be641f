#include "scraper/relabel.hpp"

#include <locale.h>
#include <openssl/evp.h>
#include <re2/re2.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace sigv4::scraper {

namespace {

const std::string default_regex = "(.*)";
const std::string default_replacement = "$1";
const std::string default_separator = ";";

re2::RE2::Options quiet_options() {
  re2::RE2::Options o;
  o.set_log_errors(false);
  return o;
}

}  // namespace

std::pair<char32_t, std::size_t> detail::decode_rune(std::string_view s, std::size_t i) {
  if (i >= s.size()) return {0, 0};
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned c = b(0);
  if (c < 0x80) return {c, 1};
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xbf;
  char32_t r = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, r = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, r = c & 0x0f;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, r = c & 0x07;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return {0xfffd, 1};
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return {0xfffd, 1};
  for (std::size_t k = 1; k < n; ++k) {
    if (k > 1 && (b(k) < 0x80 || b(k) > 0xbf)) return {0xfffd, 1};
    r = (r << 6) | (b(k) & 0x3f);
  }
  return {r, n};
}

void detail::append_rune(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xc0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3f));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xe0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (r & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (r & 0x3f));
  }
}

namespace {

// Go's %q, closely enough for error messages: printable UTF-8 kept, the rest escaped.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = detail::decode_rune(s, i);
    const bool invalid = r == 0xfffd && w == 1;
    if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (r == '\n') {
      out += "\\n";
    } else if (r == '\t') {
      out += "\\t";
    } else if (r == '\r') {
      out += "\\r";
    } else if (invalid || r < 0x20 || r == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      const auto c = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out.append(s.substr(i, w));
    }
    i += w;
  }
  out += '"';
  return out;
}

// Go's expand() reads a group name as the longest run of Unicode letters, digits (Nd) and '_'.
std::size_t name_run(std::string_view s) {
  static const re2::RE2 run(R"([\pL\p{Nd}_]*)", quiet_options());
  re2::StringPiece m;
  if (!run.Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), re2::RE2::ANCHOR_START, &m, 1)) return 0;
  return m.size();
}

void add_literal(detail::expand_template& t, std::string_view text) {
  if (text.empty()) return;
  if (t.pieces.empty() || t.pieces.back().group >= 0) t.pieces.push_back({});
  t.pieces.back().literal.append(text);
}

// Go's regexp.expand, done once: which bytes are literal and which groups get substituted.
detail::expand_template parse_template(std::string_view tmpl, const re2::RE2& re) {
  detail::expand_template t;
  while (!tmpl.empty()) {
    const auto dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    add_literal(t, tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl.front() == '$') {
      add_literal(t, "$");
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view str = tmpl;
    const bool brace = !str.empty() && str.front() == '{';
    if (brace) str.remove_prefix(1);
    const std::size_t n = name_run(str);
    if (n == 0 || (brace && (n >= str.size() || str[n] != '}'))) {
      add_literal(t, "$");  // malformed: the '$' is literal text, scanning resumes right after it
      continue;
    }
    const std::string_view name = str.substr(0, n);
    tmpl = str.substr(n + (brace ? 1 : 0));
    long num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.front() == '0' && name.size() > 1) num = -1;
    int group = -1;
    if (num >= 0) {
      if (num <= re.NumberOfCapturingGroups()) group = static_cast<int>(num);
    } else if (auto it = re.NamedCapturingGroups().find(std::string(name));
               it != re.NamedCapturingGroups().end()) {
      group = it->second;
    }
    if (group >= 0) {
      t.pieces.push_back({.literal = {}, .group = group});
      t.has_groups = true;
    }
  }
  add_literal(t, tmpl);
  return t;
}

// Every field of the spec, length-prefixed so that no two specs give the same bytes.
std::uint64_t spec_fingerprint(const relabel_spec& spec) {
  std::string b;
  auto field = [&](std::string_view v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    b.append(reinterpret_cast<const char*>(&n), sizeof n);
    b.append(v);
  };
  field(to_string(spec.action));
  field(std::to_string(spec.source_labels.size()));
  for (const auto& l : spec.source_labels) field(l);
  field(spec.separator);
  field(spec.regex);
  field(std::to_string(spec.modulus));
  field(spec.target_label);
  field(spec.replacement);
  b.push_back(spec.regex_set ? '1' : '0');
  b.push_back(spec.source_labels_set ? '1' : '0');
  return hash_bytes(b);
}

// Bytes that stand for themselves in a regex, outside brackets, wherever they are.
bool plain_regex_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
         c == '/' || c == '-' || c == ',' || c == ';' || c == '=' || c == '@' || c == ' ';
}

// ^(?:regex)$ as a comparison, when it is one: a literal (false), or a literal then `.*` (true; `.` is any
// character but a line break, an invalid UTF-8 byte included, as Go reads it: U+FFFD). `text`: the literal.
std::optional<bool> plain_match(std::string_view regex, std::string& text) {
  const bool prefix = regex.ends_with(".*");
  if (prefix) regex.remove_suffix(2);
  if (!std::ranges::all_of(regex, plain_regex_char)) return std::nullopt;
  text = regex;
  return prefix;
}

int max_group(const detail::expand_template& t) {
  int m = -1;
  for (const auto& p : t.pieces) m = std::max(m, p.group);
  return m;
}

bool needs_target(relabel_action a) {
  using enum relabel_action;
  return a == replace || a == hashmod || a == lowercase || a == uppercase || a == keepequal || a == dropequal;
}

bool is_case_or_equal(relabel_action a) {
  using enum relabel_action;
  return a == lowercase || a == uppercase || a == keepequal || a == dropequal;
}

}  // namespace

std::optional<relabel_action> parse_action(std::string_view s) {
  std::string lower(s);
  std::ranges::transform(lower, lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  using enum relabel_action;
  for (auto a : {replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep,
                 lowercase, uppercase}) {
    if (lower == to_string(a)) return a;
  }
  return std::nullopt;
}

std::string action_error(std::string_view s) {
  if (s.empty()) return "relabel action cannot be empty";
  return "unknown relabel action " + go_quote(s);
}

std::string_view to_string(relabel_action a) {
  static constexpr std::array<std::string_view, 11> names = {
      "replace",  "keep",      "drop",      "keepequal", "dropequal", "hashmod",
      "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase"};
  return names[static_cast<std::size_t>(a)];
}

bool is_valid_label_name(std::string_view name) {
  // 1: may start a name, 2: may follow. A table: this runs for every label of every scraped sample.
  static constexpr auto table = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = 3;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = 3;
    t['_'] = 3;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = 2;
    return t;
  }();
  if (name.empty() || (table[static_cast<unsigned char>(name[0])] & 1) == 0) return false;
  unsigned char all = 2;
  for (char c : name) all &= table[static_cast<unsigned char>(c)];
  return all != 0;
}

bool is_valid_relabel_target(std::string_view s) {
  static const re2::RE2 target(R"(^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$)", quiet_options());
  return re2::RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), target);
}

namespace {
const EVP_MD* md5_digest() {
  static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  return md5;
}
}  // namespace

std::uint64_t hashmod_value(std::string_view s, std::uint64_t modulus) {
  // One context per thread, reset per use: EVP_Digest would allocate one per call.
  const EVP_MD* md5 = md5_digest();
  struct ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
  std::array<unsigned char, 16> sum{};
  unsigned int len = 0;
  if (md5 == nullptr || !ctx || EVP_DigestInit_ex2(ctx.get(), md5, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), s.data(), s.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), sum.data(), &len) != 1) {
    return 0;  // only without MD5 in OpenSSL's default provider; compile() refuses hashmod then
  }
  // Prometheus' sum64 shifts every byte by (15-i)*8; in Go the first 8 shifts are >= 64 and give 0.
  std::uint64_t v = 0;
  for (std::size_t i = 8; i < 16; ++i) v = (v << 8) | sum[i];
  return v % modulus;
}

std::variant<relabel_rule, std::string> compile(const relabel_spec& spec) {
  using enum relabel_action;
  const relabel_action a = spec.action;
  const std::string act(to_string(a));
  for (const auto& name : spec.source_labels) {
    if (!is_valid_label_name(name)) return go_quote(name) + " is not a valid label name";
  }
  auto re = std::make_shared<const re2::RE2>("^(?:" + spec.regex + ")$", quiet_options());
  if (!re->ok()) return "error parsing regexp " + go_quote(spec.regex) + ": " + re->error();

  if (a == hashmod && spec.modulus == 0) return "relabel configuration for hashmod requires non-zero modulus";
  if (needs_target(a) && spec.target_label.empty()) {
    return "relabel configuration for " + act + " action requires 'target_label' value";
  }
  const std::string bad_target =
      go_quote(spec.target_label) + " is invalid 'target_label' for " + act + " action";
  if ((a == replace || is_case_or_equal(a)) && !is_valid_relabel_target(spec.target_label)) return bad_target;
  if (is_case_or_equal(a) && spec.replacement != default_replacement) {
    return "'replacement' can not be set for " + act + " action";
  }
  if (a == labelmap && !is_valid_relabel_target(spec.replacement)) {
    return go_quote(spec.replacement) + " is invalid 'replacement' for " + act + " action";
  }
  if (a == hashmod && !is_valid_label_name(spec.target_label)) return bad_target;
  if ((a == keepequal || a == dropequal) &&
      (spec.regex_set || spec.modulus != 0 || spec.separator != default_separator ||
       spec.replacement != default_replacement)) {
    return act + " action requires only 'source_labels' and `target_label`, and no other fields";
  }
  if ((a == labeldrop || a == labelkeep) &&
      (spec.source_labels_set || !spec.source_labels.empty() || !spec.target_label.empty() ||
       spec.modulus != 0 || spec.separator != default_separator || spec.replacement != default_replacement)) {
    return act + " action requires only 'regex', and no other fields";
  }
  if (a == hashmod && md5_digest() == nullptr) return "md5 is not available from OpenSSL";

  relabel_rule r;
  r.action_ = a;
  r.source_labels_ = spec.source_labels;
  r.separator_ = spec.separator;
  r.regex_src_ = spec.regex;
  r.modulus_ = spec.modulus;
  r.target_label_ = spec.target_label;
  r.target_ = parse_template(spec.target_label, *re);
  r.replacement_ = parse_template(spec.replacement, *re);
  r.groups_ = std::max(max_group(r.target_), max_group(r.replacement_)) + 1;
  r.re_ = std::move(re);
  r.fingerprint_ = spec_fingerprint(spec);
  if (const auto prefix = plain_match(spec.regex, r.match_text_)) {
    r.match_kind_ = *prefix ? relabel_rule::match_kind::prefix : relabel_rule::match_kind::literal;
  }
  r.matches_empty_ = re2::RE2::FullMatch("", *r.re_);
  // replace checks its expanded name before it sets it, hashmod's target_label was checked above.
  r.may_name_invalid_label_ =
      a == labelmap || ((a == lowercase || a == uppercase) && !is_valid_label_name(spec.target_label));
  return r;
}

}  // namespace sigv4::scraper
