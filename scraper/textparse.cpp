// What both formats share: Go's float syntax, UTF-8 validity, unescaping, label
// decoding and error reporting. The formats themselves are in textparse_text.cpp and textparse_om.cpp.
#include "scraper/textparse.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace sigv4::scraper {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

std::string_view to_string(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
    case metric_type::gaugehistogram:
      return "gaugehistogram";
    case metric_type::summary:
      return "summary";
    case metric_type::info:
      return "info";
    case metric_type::stateset:
      return "stateset";
    case metric_type::unknown:
      break;
  }
  return "unknown";
}

namespace detail {

std::string go_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

bool parse_go_float(std::string_view s, double& out, std::string* err) {
  // Prometheus refuses 'p', 'P' and '_' before Go parses; none of them can be in a number accepted below,
  // so the check is only needed to word the error.
  auto syntax = [&](const char* why) {
    if (!err) return false;
    if (std::ranges::any_of(s, [](char c) { return c == 'p' || c == 'P' || c == '_'; })) {
      *err = "unsupported character in float";
    } else {
      *err = "strconv.ParseFloat: parsing " + go_quote(s) + ": " + why;
    }
    return false;
  };
  std::size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    ++i;
  }
  // Decimal: digits with at most one '.', at least one digit, then [eE][+-]?digits. (A hex mantissa needs
  // a 'p' exponent in Go, and 'p' is refused.)
  std::size_t j = i, digits = 0, frac_digits = 0;
  std::uint64_t mantissa = 0;
  while (j < s.size() && s[j] >= '0' && s[j] <= '9') mantissa = mantissa * 10 + (s[j++] - '0'), ++digits;
  if (j < s.size() && s[j] == '.') {
    ++j;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      mantissa = mantissa * 10 + (s[j++] - '0');
      ++digits, ++frac_digits;
    }
  }
  if (digits == 0) {
    // strconv's special(): [+-]inf, [+-]infinity, nan (unsigned), any case.
    std::string_view body = s.substr(i);
    if (iequals(body, "inf") || iequals(body, "infinity")) {
      out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
      return true;
    }
    if (i == 0 && iequals(body, "nan")) {
      out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    return syntax("invalid syntax");
  }
  bool exponent = false;
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    exponent = true;
    ++j;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    std::size_t e = j;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == e) return syntax("invalid syntax");
  }
  if (j != s.size()) return syntax("invalid syntax");

  // Clinger's fast path, the common case (counters, plain decimals): an integer below 2^53 and a power of
  // ten up to 1e22 are both exact, so one IEEE division is the correctly rounded result.
  static constexpr double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (!exponent && digits <= 19) {  // 19 digits: the mantissa has not wrapped
    while (frac_digits > 0 && mantissa % 10 == 0) mantissa /= 10, --frac_digits;
  }
  if (!exponent && digits <= 19 && mantissa <= (std::uint64_t{1} << 53) && frac_digits <= 22) {
    double v = static_cast<double>(mantissa) / pow10[frac_digits];
    out = neg ? -v : v;
    return true;
  }
  // from_chars takes no '+'; its result is correctly rounded, as Go's is.
  const char* first = s.data() + (s[0] == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), out);
  if (ec == std::errc() && ptr == s.data() + s.size()) return true;
  if (ec != std::errc::result_out_of_range) return syntax("invalid syntax");
  // Rare: libstdc++ reports underflow as out of range too, Go only overflow (underflow gives 0 or a
  // denormal). strtod tells them apart; the copy is only for its terminating NUL.
  std::string copy(s);
  errno = 0;
  double v = std::strtod(copy.c_str(), nullptr);
  if (std::isinf(v)) return syntax("value out of range");
  out = v;
  return true;
}

void unescape(std::string_view in, bool quotes, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\\' && i + 1 < in.size()) {
      char d = in[i + 1];
      if (d == '\\' || d == 'n' || (quotes && d == '"')) {
        out += d == 'n' ? '\n' : d;
        ++i;
        continue;
      }
    }
    out += c;
  }
}

std::optional<std::int64_t> seconds_to_ms(std::string_view token, double v) {
  // A plain decimal is converted exactly: Go's int64(v*1000) truncates a product that floating point may
  // put just below the integer (1.001 s * 1000 = 1000.9999999999999 -> 1000 ms), while the OpenMetrics
  // spec means the decimal value in seconds. Prometheus 2.42 gets the same answer whenever its product is
  // exact; with an exponent, or too many digits, the product it is.
  std::size_t i = 0;
  bool neg = false;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) neg = token[i++] == '-';
  std::int64_t whole = 0;
  bool exact = i < token.size();
  constexpr std::int64_t max_whole = std::numeric_limits<std::int64_t>::max() / 1000 - 1;
  for (; i < token.size() && token[i] != '.'; ++i) {
    char c = token[i];
    if (c < '0' || c > '9' || whole > max_whole / 10) {
      exact = false;
      break;
    }
    whole = whole * 10 + (c - '0');
  }
  if (exact) {
    std::int64_t frac = 0;
    int n = 0;
    if (i < token.size()) ++i;  // the '.'
    for (; i < token.size(); ++i) {
      char c = token[i];
      if (c < '0' || c > '9') {
        exact = false;
        break;
      }
      if (n < 3) frac = frac * 10 + (c - '0'), ++n;
    }
    for (; n < 3; ++n) frac *= 10;
    if (exact) {
      std::int64_t ms = whole * 1000 + frac;
      return neg ? -ms : ms;
    }
  }
  double ms = v * 1000;
  // Go's conversion of an out-of-range float is implementation-defined (and UB in C++): refuse it.
  if (!(ms > -9.223372036854775e18 && ms < 9.223372036854775e18)) return std::nullopt;
  return static_cast<std::int64_t>(ms);
}

}  // namespace detail

parser::parser(std::string_view page, format f) : page_(page), format_(f) {
  spans_.reserve(16);
}

entry parser::next() {
  if (done_) return state_;
  spans_.clear();
  has_ts_ = false;
  has_exemplar_ = false;
  labels_skipped_ = false;
  state_ = format_ == format::text ? next_text() : next_openmetrics();
  if (state_ == entry::eof || state_ == entry::invalid) done_ = true;
  return state_;
}

bool parser::known_series(std::size_t& i, bool brace) {
  std::size_t end = i;
  if (brace) {
    const void* close = std::memchr(page_.data() + i, '}', page_.size() - i);
    if (close == nullptr) return false;
    end = static_cast<std::size_t>(static_cast<const char*>(close) - page_.data()) + 1;
  }
  if (!known_fn_(known_caller_, page_.substr(series_begin_, end - series_begin_))) return false;
  labels_skipped_ = true;
  i = end;
  return true;
}

entry parser::fail(std::size_t pos, std::string message) {
  pos = std::min(pos, page_.size());
  std::size_t line = 1 + static_cast<std::size_t>(std::count(page_.begin(), page_.begin() + pos, '\n'));
  error_ = parse_error{line, std::move(message)};
  return entry::invalid;
}

entry parser::fail_expected(std::size_t pos, std::string_view expected) {
  // Prometheus names the lexer's token ("got \"INVALID\""); the bytes themselves help an operator more.
  std::string got;
  if (pos >= page_.size()) {
    got = "EOF";
  } else {
    std::size_t n = 1;
    auto word = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == ':' || c == '.' || c == '+' || c == '-';
    };
    if (word(page_[pos])) {
      while (pos + n < page_.size() && n < 32 && word(page_[pos + n])) ++n;
    }
    got = detail::go_quote(page_.substr(pos, n));
  }
  std::string message(expected);
  message += ", got ";
  message += got;
  return fail(pos, std::move(message));
}

bool parser::add_label(std::size_t name_begin, std::size_t name_end, std::size_t quote_begin,
                       std::size_t quote_end, bool escaped, bool ascii) {
  std::string_view value = page_.substr(quote_begin, quote_end - quote_begin);
  // Non-ASCII values are rare; the scanner saw whether there is one.
  if (!ascii && !detail::valid_utf8(value)) {
    fail(quote_begin, "invalid UTF-8 label value");
    return false;
  }
  // Prometheus refuses a repeated label name when it appends (tsdb: "label name ... is not unique"); the
  // page is wrong, so say where. The metric name is the label __name__.
  std::string_view name = page_.substr(name_begin, name_end - name_begin);
  bool dup = name == "__name__";
  for (const auto& s : spans_) {
    if (s.name_end - s.name_begin == name.size() && page_.compare(s.name_begin, name.size(), name) == 0) {
      dup = true;
      break;
    }
  }
  if (dup) {
    fail(name_begin, "label name " + detail::go_quote(name) + " is not unique");
    return false;
  }
  spans_.push_back({name_begin, name_end, quote_begin + 1, quote_end - 1, escaped});
  return true;
}

bool parser::finish_help(std::string_view raw, bool escape_quotes) {
  if (!detail::valid_utf8(raw)) {
    fail(static_cast<std::size_t>(raw.data() - page_.data()), "help text is not a valid utf8 string");
    return false;
  }
  if (raw.find('\\') == std::string_view::npos) {
    help_ = raw;
  } else {
    detail::unescape(raw, escape_quotes, help_buf_);
    help_ = help_buf_;
  }
  return true;
}

void parser::labels(scraper::labels& out) const {
  // Sort positions rather than strings, then assign in order: no string moves, and each element of `out`
  // keeps the capacity it had from the previous series.
  constexpr std::size_t small = 32;
  std::size_t n = spans_.size() + 1;
  std::uint32_t order_small[small];
  std::vector<std::uint32_t> order_large;
  std::uint32_t* order = order_small;
  if (n > small) {
    order_large.resize(n);
    order = order_large.data();
  }
  auto name_of = [&](std::uint32_t k) -> std::string_view {
    if (k == 0) return "__name__";
    const auto& s = spans_[k - 1];
    return page_.substr(s.name_begin, s.name_end - s.name_begin);
  };
  std::size_t m = 0;
  if (name_end_ > name_begin_) order[m++] = 0;
  for (std::uint32_t k = 1; k < n; ++k) {
    if (spans_[k - 1].value_end > spans_[k - 1].value_begin) order[m++] = k;
  }
  // Insertion sort: label sets are small and usually sorted already, but for __name__.
  for (std::size_t a = 1; a < m; ++a) {
    std::uint32_t k = order[a];
    std::string_view key = name_of(k);
    std::size_t b = a;
    for (; b > 0 && name_of(order[b - 1]) > key; --b) order[b] = order[b - 1];
    order[b] = k;
  }
  out.resize(m);
  for (std::size_t a = 0; a < m; ++a) {
    std::uint32_t k = order[a];
    out[a].name.assign(name_of(k));
    if (k == 0) {
      out[a].value.assign(metric_name());
      continue;
    }
    const auto& s = spans_[k - 1];
    std::string_view raw = page_.substr(s.value_begin, s.value_end - s.value_begin);
    if (s.escaped) {
      detail::unescape(raw, true, out[a].value);
    } else {
      out[a].value.assign(raw);
    }
  }
}

}  // namespace sigv4::scraper
