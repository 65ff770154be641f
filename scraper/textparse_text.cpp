// The Prometheus text format 0.0.4, token for token as promlex.l and promparse.go in 2.42 read it: blanks
// and tabs between any two tokens, blank lines, `# HELP`/`# TYPE` and other comments, a missing final line
// break (NewPromParser appends one: at() shows it).
#include "scraper/textparse.hpp"
#include "scraper/textparse_chars.hpp"

namespace sigv4::scraper {

using namespace detail::chars;

entry parser::next_text() {
  std::size_t i = pos_;
  for (;;) {
    // Leading blanks: Prometheus 2.42 keeps them in the series bytes and, through its offsets, in
    // __name__ (`  up 1` gives __name__="  up"), a bug; the format says leading white space is ignored.
    while (is(at(i), blank)) ++i;
    int c = at(i);
    if (c == '\n') {  // a blank line
      ++i;
      continue;
    }
    if (c < 0) {
      pos_ = i;
      return entry::eof;
    }
    if (c == 0) {
      // As in 2.42: golex's end-of-input rule `\0` ends the page where a token starts a line.
      pos_ = i;
      return entry::eof;
    }
    break;
  }
  const std::size_t start = i;
  int c = at(i);

  if (c == '#') {
    ++i;
    bool spaced = is(at(i), blank);
    while (is(at(i), blank)) ++i;
    auto keyword = [&](std::string_view w) {
      return page_.compare(std::min(i, page_.size()), w.size(), w) == 0 && is(at(i + w.size()), blank);
    };
    bool help = spaced && keyword("HELP");
    bool type = spaced && !help && keyword("TYPE");
    if (!help && !type) {
      // A comment: the line from '#'. Without a blank after '#' 2.42 lexes it in its initial state,
      // where a NUL byte is end of input (consumeComment); mirrored.
      std::size_t j = i;
      while (at(j) != '\n' && (spaced || at(j) != 0)) ++j;
      if (!spaced && at(j) == 0) {
        pos_ = j;
        return entry::eof;
      }
      text_ = page_.substr(start, std::min(j, page_.size()) - start);
      pos_ = j + 1;
      return entry::comment;
    }
    i += 4;
    while (is(at(i), blank)) ++i;
    if (!is(at(i), name_start))
      return fail_expected(i, help ? "expected metric name after HELP" : "expected metric name after TYPE");
    name_begin_ = i;
    while (is(at(i), name_char)) ++i;
    name_end_ = i;
    std::size_t nl = i;
    bool only_blanks = true;
    while (at(nl) != '\n') {
      if (!is(at(nl), blank)) only_blanks = false;
      ++nl;
    }
    // promlex's sMeta2: `{C}*` then buf()[1:], so the byte after the name is dropped, whatever it is;
    // a rest of only blanks lexes as white space first, leaving an empty text.
    std::string_view rest = page_.substr(i, std::min(nl, page_.size()) - i);
    std::string_view text = only_blanks ? std::string_view{} : rest.substr(1);
    pos_ = nl + 1;
    if (help) {
      if (!finish_help(text, false)) return entry::invalid;
      return entry::help;
    }
    if (text == "counter") {
      type_ = metric_type::counter;
    } else if (text == "gauge") {
      type_ = metric_type::gauge;
    } else if (text == "histogram") {
      type_ = metric_type::histogram;
    } else if (text == "summary") {
      type_ = metric_type::summary;
    } else if (text == "untyped") {
      type_ = metric_type::unknown;
    } else {
      return fail(i, "invalid metric type " + detail::go_quote(text));
    }
    return entry::type;
  }

  if (!is(c, name_start))
    return fail(start, detail::go_quote(page_.substr(start, 1)) + " is not a valid start token");
  name_begin_ = series_begin_ = i;
  while (is(at(i), name_char)) ++i;
  name_end_ = series_end_ = i;
  while (is(at(i), blank)) ++i;
  if (at(i) == '{') {
    ++i;
    if (!(known_fn_ && known_series(i, true)) && !text_labels(i)) return entry::invalid;
    series_end_ = i;
    while (is(at(i), blank)) ++i;
  } else if (known_fn_) {
    std::size_t end = series_end_;
    known_series(end, false);
  }
  std::size_t v = i;
  while (is(at(i), text_value)) ++i;
  if (i == v) return fail_expected(i, "expected value after metric");
  std::string err;
  if (!detail::parse_go_float(page_.substr(v, i - v), value_, &err)) return fail(v, std::move(err));
  if (std::isnan(value_)) value_ = normal_nan();
  while (is(at(i), blank)) ++i;
  if (is(at(i), digit)) {
    std::size_t t = i;
    while (is(at(i), digit)) ++i;
    auto [p, ec] = std::from_chars(page_.data() + t, page_.data() + i, ts_ms_);
    if (ec != std::errc()) {
      return fail(t, "strconv.ParseInt: parsing " + detail::go_quote(page_.substr(t, i - t)) +
                         ": value out of range");
    }
    has_ts_ = true;
    while (is(at(i), blank)) ++i;
    if (at(i) != '\n') return fail_expected(i, "expected next entry after timestamp");
  } else if (at(i) != '\n') {
    return fail_expected(i, "expected timestamp or new record");
  }
  pos_ = i + 1;
  return entry::sample;
}

// After '{'. Leaves i after '}'.
bool parser::text_labels(std::size_t& i) {
  for (;;) {
    while (is(at(i), blank)) ++i;
    int c = at(i);
    if (c == '}') {
      ++i;
      return true;
    }
    if (!is(c, lname_start)) {
      fail_expected(i, "expected label name");
      return false;
    }
    std::size_t nb = i;
    while (is(at(i), lname_char)) ++i;
    std::size_t ne = i;
    while (is(at(i), blank)) ++i;
    if (at(i) != '=') {
      fail_expected(i, "expected equal");
      return false;
    }
    ++i;
    while (is(at(i), blank)) ++i;
    if (at(i) != '"') {
      fail_expected(i, "expected label value");
      return false;
    }
    std::size_t qb = i++;
    bool escaped = false;
    int high = 0;  // or of all bytes: >= 0x80 when one is not ASCII
    // promlex: \"(\\.|[^\\"])*\" -- a raw line break is accepted inside a value (2.42 does; kept so that a
    // page Prometheus takes is not refused here), an escaped one is not; NUL bytes are passed over.
    for (;;) {
      int d = at(i);
      if (d == '"') break;
      high |= d;
      if (d < 0) {
        fail_expected(qb, "expected label value");
        return false;
      }
      if (d == '\\') {
        escaped = true;
        ++i;
        while (at(i) == 0) ++i;
        if (at(i) < 0 || at(i) == '\n') {
          fail_expected(qb, "expected label value");
          return false;
        }
        high |= at(i);
      }
      ++i;
    }
    ++i;
    if (!add_label(nb, ne, qb, i, escaped, high < 0x80)) return false;
    // "Free trailing commas are allowed" -- and, as in 2.42, a missing comma between two labels too.
    while (is(at(i), blank)) ++i;
    if (at(i) == ',') ++i;
  }
}

}  // namespace sigv4::scraper
