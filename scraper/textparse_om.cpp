// OpenMetrics 1.0 as openmetricslex.l and openmetricsparse.go in 2.42 read it: exactly one space between
// tokens, no blank lines, no free comments, `# EOF` last, HELP/TYPE/UNIT metadata, exemplars after
// ` # ` on _total and _bucket samples, timestamps in float seconds.
#include "scraper/textparse.hpp"
#include "scraper/textparse_chars.hpp"

namespace sigv4::scraper {

using namespace detail::chars;

namespace {

constexpr std::string_view eof_required = "data does not end with # EOF";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

entry parser::next_openmetrics() {
  const std::size_t n = page_.size();
  auto at = [&](std::size_t k) { return k < n ? static_cast<unsigned char>(page_[k]) : -1; };
  std::size_t i = pos_;
  const std::size_t start = i;
  if (i >= n) return fail(i, std::string(eof_required));
  int c = at(i);

  if (c == '#') {
    if (at(i + 1) != ' ') return fail_expected(i + 1, "expected a space after \"#\"");
    i += 2;
    std::string_view rest = page_.substr(i);
    if (rest.starts_with("EOF")) {
      i += 3;
      if (at(i) == '\n') ++i;
      if (i != n) return fail(i, "unexpected data after # EOF");
      pos_ = i;
      return entry::eof;
    }
    entry kind;
    std::string_view what;
    if (rest.starts_with("HELP ")) {
      kind = entry::help, what = "HELP";
    } else if (rest.starts_with("TYPE ")) {
      kind = entry::type, what = "TYPE";
    } else if (rest.starts_with("UNIT ")) {
      kind = entry::unit, what = "UNIT";
    } else {
      // OpenMetrics has no free comments.
      return fail_expected(i, "expected HELP, TYPE, UNIT or EOF after \"# \"");
    }
    i += 5;
    if (!is(at(i), name_start)) return fail_expected(i, "expected metric name after " + std::string(what));
    name_begin_ = i;
    while (is(at(i), name_char)) ++i;
    name_end_ = i;
    // sMeta2: {S}{C}*\n -- the line break is part of the token, so a last line without one is an error.
    std::size_t nl = page_.find('\n', i);
    if (at(i) != ' ' || nl == std::string_view::npos) return fail(i, "expected text in " + std::string(what));
    std::string_view text = page_.substr(i + 1, nl - i - 1);
    pos_ = nl + 1;
    if (kind == entry::help) {
      // OpenMetrics escapes help as label values are escaped: \" too.
      if (!finish_help(text, true)) return entry::invalid;
      return kind;
    }
    if (kind == entry::unit) {
      std::string_view m = metric_name();
      if (!text.empty() &&
          !(m.size() > text.size() && ends_with(m, text) && m[m.size() - text.size() - 1] == '_')) {
        return fail(i, "unit not a suffix of metric " + detail::go_quote(m));
      }
      text_ = text;
      return kind;
    }
    static constexpr std::pair<std::string_view, metric_type> types[] = {
        {"counter", metric_type::counter},     {"gauge", metric_type::gauge},
        {"histogram", metric_type::histogram}, {"gaugehistogram", metric_type::gaugehistogram},
        {"summary", metric_type::summary},     {"info", metric_type::info},
        {"stateset", metric_type::stateset},   {"unknown", metric_type::unknown}};
    for (const auto& [word, t] : types) {
      if (text == word) {
        type_ = t;
        return kind;
      }
    }
    return fail(i + 1, "invalid metric type " + detail::go_quote(text));
  }

  if (!is(c, name_start)) {
    return fail(start, detail::go_quote(page_.substr(start, 1)) + " is not a valid start token");
  }
  name_begin_ = series_begin_ = i;
  while (is(at(i), name_char)) ++i;
  name_end_ = series_end_ = i;
  if (at(i) == '{') {
    ++i;
    if (!(known_fn_ && known_series(i, true)) && !openmetrics_labels(i, false)) return entry::invalid;
    series_end_ = i;
  } else if (known_fn_) {
    std::size_t end = series_end_;
    known_series(end, false);
  }
  // One token: a space, then bytes up to the next space or line break.
  auto token = [&](std::size_t& k) -> std::string_view {
    if (at(k) != ' ' || !is(at(k + 1), om_token)) return {};
    std::size_t b = ++k;
    while (is(at(k), om_token)) ++k;
    return page_.substr(b, k - b);
  };
  std::string err;
  std::size_t v = i;
  std::string_view tok = token(i);
  if (tok.empty()) return fail_expected(v, "expected value after metric");
  if (!detail::parse_go_float(tok, value_, &err)) return fail(v + 1, std::move(err));
  // 2.42 tests the exemplar's value here instead of the sample's (getFloatValue), so an OpenMetrics NaN
  // keeps its bits; the intent, and the text parser, is the normal NaN: never a stale marker.
  if (std::isnan(value_)) value_ = normal_nan();

  bool exemplar_next = false;
  auto is_exemplar = [&](std::size_t k) { return page_.compare(std::min(k, n), 4, " # {") == 0; };
  if (i >= n) return fail(i, std::string(eof_required));
  if (is_exemplar(i)) {
    exemplar_next = true;
  } else if (at(i) == ' ') {
    std::size_t t = i;
    tok = token(i);
    if (tok.empty()) return fail_expected(t + 1, "expected timestamp or # symbol");
    double seconds;
    if (!detail::parse_go_float(tok, seconds, &err)) return fail(t + 1, std::move(err));
    std::optional<std::int64_t> ms;
    if (std::isfinite(seconds)) ms = detail::seconds_to_ms(tok, seconds);
    if (!ms) return fail(t + 1, "invalid timestamp");
    ts_ms_ = *ms;
    has_ts_ = true;
    if (is_exemplar(i)) {
      exemplar_next = true;
    } else if (at(i) != '\n') {
      return fail_expected(i, "expected next entry after timestamp");
    }
  } else if (at(i) != '\n') {
    return fail_expected(i, "expected timestamp or # symbol");
  }
  if (exemplar_next) {
    if (!ends_with(metric_name(), "_total") && !ends_with(metric_name(), "_bucket")) {
      return fail(i, "metric name " + std::string(metric_name()) + " does not support exemplars");
    }
    i += 4;
    if (!openmetrics_exemplar(i)) return entry::invalid;
    has_exemplar_ = true;
  }
  pos_ = i + 1;  // past the line break
  return entry::sample;
}

// After '{' (a series) or ` # {` (an exemplar). Leaves i after '}'. No white space anywhere, commas only
// between labels.
bool parser::openmetrics_labels(std::size_t& i, bool exemplar) {
  const std::size_t n = page_.size();
  auto at = [&](std::size_t k) { return k < n ? static_cast<unsigned char>(page_[k]) : -1; };
  for (bool first = true;; first = false) {
    int c = at(i);
    if (c == '}') {
      ++i;
      return true;
    }
    if (c == ',') {
      if (first) {
        fail_expected(i, "expected label name or left brace");
        return false;
      }
      ++i;
      if (!is(at(i), lname_start)) {
        fail_expected(i, "expected label name");
        return false;
      }
    } else if (!is(c, lname_start)) {
      fail_expected(i, first ? "expected label name or left brace" : "expected comma or left brace");
      return false;
    } else if (!first) {
      fail_expected(i, "expected comma");
      return false;
    }
    std::size_t nb = i;
    while (is(at(i), lname_char)) ++i;
    std::size_t ne = i;
    if (at(i) != '=') {
      fail_expected(i, "expected equal");
      return false;
    }
    ++i;
    if (at(i) != '"') {
      fail_expected(i, "expected label value");
      return false;
    }
    std::size_t qb = i++;
    bool escaped = false;
    int high = 0;  // or of all bytes: >= 0x80 when one is not ASCII
    // \"(\\.|[^\\"\n])*\" -- no raw line break. NUL bytes are passed over in a series' values but are an
    // error in an exemplar's (sEValue is not among the lexer states that skip them).
    auto stop = [&](int d) { return d < 0 || d == '\n' || (exemplar && d == 0); };
    for (;;) {
      int d = at(i);
      if (d == '"') break;
      high |= d;
      if (stop(d)) {
        fail_expected(qb, "expected label value");
        return false;
      }
      if (d == '\\') {
        escaped = true;
        ++i;
        while (!exemplar && at(i) == 0) ++i;
        if (stop(at(i))) {
          fail_expected(qb, "expected label value");
          return false;
        }
        high |= at(i);
      }
      ++i;
    }
    ++i;
    if (exemplar) {
      // Not stored, so neither recorded nor checked for repeats (2.42 does not either).
      if (!detail::valid_utf8(page_.substr(qb, i - qb))) {
        fail(qb, "invalid UTF-8 label value");
        return false;
      }
    } else if (!add_label(nb, ne, qb, i, escaped, high < 0x80)) {
      return false;
    }
  }
}

// After ` # {`: the exemplar's labels, its value and an optional timestamp, then the line break (i is left
// on it). Checked as 2.42 checks them, then dropped: the scrape loop does not store exemplars.
bool parser::openmetrics_exemplar(std::size_t& i) {
  const std::size_t n = page_.size();
  auto at = [&](std::size_t k) { return k < n ? static_cast<unsigned char>(page_[k]) : -1; };
  if (!openmetrics_labels(i, true)) return false;
  std::string err;
  double v;
  if (at(i) != ' ' || !is(at(i + 1), om_token)) {
    fail_expected(i, "expected value after exemplar labels");
    return false;
  }
  std::size_t b = ++i;
  while (is(at(i), om_token)) ++i;
  if (!detail::parse_go_float(page_.substr(b, i - b), v, &err)) {
    fail(b, std::move(err));
    return false;
  }
  if (i >= n) {
    fail(i, std::string(eof_required));
    return false;
  }
  if (at(i) == ' ' && is(at(i + 1), om_token)) {
    b = ++i;
    while (is(at(i), om_token)) ++i;
    if (!detail::parse_go_float(page_.substr(b, i - b), v, &err)) {
      fail(b, std::move(err));
      return false;
    }
    if (!std::isfinite(v) || !detail::seconds_to_ms(page_.substr(b, i - b), v)) {
      fail(b, "invalid exemplar timestamp");
      return false;
    }
    if (at(i) != '\n') {
      fail_expected(i, "expected next entry after exemplar timestamp");
      return false;
    }
  } else if (at(i) != '\n') {
    fail_expected(i, "expected timestamp or comment");
    return false;
  }
  return true;
}

}  // namespace sigv4::scraper
