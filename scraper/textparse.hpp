#pragma once
// Exposition-format parsers: the Prometheus text format 0.0.4 and OpenMetrics 1.0, as Prometheus 2.42's
// model/textparse parses them (promparse.go, openmetricsparse.go). A pull parser over one page in memory,
// sans-I/O: the page is already decompressed and stays alive while the parser and its views are used.
//
// Hot path (next() on a sample, series(), value()): no allocation. labels() allocates only to grow `out`.
// Where this deliberately differs from 2.42, the code says so at the spot, with the reason.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/labels.hpp"

namespace sigv4::scraper {

enum class format { text, openmetrics };

// As textparse.New in 2.42: OpenMetrics only for the media type application/openmetrics-text (any case,
// any valid parameters); anything else, empty, or unparsable by Go's mime.ParseMediaType: the text format.
// (2.42 would pick its protobuf parser for application/vnd.google.protobuf; we never ask for protobuf, so
// such a page would be an error in either format: the text parser reports it.)
format format_for_content_type(std::string_view content_type);

// Exactly the Accept header Prometheus 2.42 sends on a scrape (scrape/scrape.go, scrapeAcceptHeader).
inline constexpr std::string_view scrape_accept_header =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

enum class entry {
  sample,   // series(), value(), timestamp_ms(), labels()
  type,     // metric_name(), type()
  help,     // metric_name(), help()
  unit,     // metric_name(), unit()  (OpenMetrics only)
  comment,  // comment()  (text format only: OpenMetrics has no free comments)
  eof,      // the page ended well (OpenMetrics: at `# EOF`); next() keeps returning eof
  invalid,  // error() says where and why; next() keeps returning invalid
};

enum class metric_type { unknown, counter, gauge, histogram, gaugehistogram, summary, info, stateset };
std::string_view to_string(metric_type t);  // as Prometheus writes it: "counter", ..., "unknown"

struct parse_error {
  std::size_t line = 0;  // 1-based line of the offending token
  std::string message;   // Prometheus' wording where it has one, e.g. `expected equal, got "."`
};

class parser {
 public:
  parser(std::string_view page, format f);

  entry next();
  const std::optional<parse_error>& error() const { return error_; }

  // Optional: asked, before a sample's label text is lexed, whether `series` (the bytes series() would be
  // if the label text ends at its first '}') is one the caller knows from a page that parsed well. On yes
  // the label text is taken as it is, unchecked: equal bytes lex alike. Then series() is those bytes and
  // labels_skipped() is true: labels() has nothing but __name__ for that sample, the caller has its labels.
  using known_series_fn = bool (*)(void* caller, std::string_view series);
  void set_known_series(known_series_fn fn, void* caller) {
    known_fn_ = fn;
    known_caller_ = caller;
  }
  bool labels_skipped() const { return labels_skipped_; }

  // --- the current sample ---
  // The raw bytes from the metric name to the closing brace (or the end of the name), e.g.
  // `http_requests_total{code="200"}`: a cache key; equal bytes mean equal labels().
  std::string_view series() const { return page_.substr(series_begin_, series_end_ - series_begin_); }
  double value() const { return value_; }  // NaN is always Prometheus' normal NaN, never a stale marker
  std::optional<std::int64_t> timestamp_ms() const {
    return has_ts_ ? std::optional<std::int64_t>(ts_ms_) : std::nullopt;
  }
  // __name__ and the labels, unescaped, sorted; labels with an empty value are left out (an empty value
  // means "no such label", as Prometheus' label builder treats it). Reuses out's elements' capacity.
  void labels(scraper::labels& out) const;
  // OpenMetrics: the sample carried an exemplar (syntax-checked, then skipped).
  bool has_exemplar() const { return has_exemplar_; }

  // --- the current metadata entry; metric_name() also for a sample ---
  std::string_view metric_name() const { return page_.substr(name_begin_, name_end_ - name_begin_); }
  metric_type type() const { return type_; }
  std::string_view help() const { return help_; }  // unescaped
  std::string_view unit() const { return text_; }
  std::string_view comment() const { return text_; }  // the whole line from '#', without the line break

 private:
  struct label_span {
    std::size_t name_begin, name_end, value_begin, value_end;
    bool escaped;
  };

  entry next_text();
  entry next_openmetrics();
  bool text_labels(std::size_t& i);
  // i is just past a sample's '{': true when the caller knows the series up to the first '}' (i moves past
  // it). Without a '{' (brace false), asks about the name alone.
  bool known_series(std::size_t& i, bool brace);
  bool openmetrics_labels(std::size_t& i, bool exemplar);
  bool openmetrics_exemplar(std::size_t& i);
  bool finish_help(std::string_view raw, bool escape_quotes);
  // Checks the value token `page_[quote_begin, quote_end)` (quotes included) and the name, and records it.
  bool add_label(std::size_t name_begin, std::size_t name_end, std::size_t quote_begin, std::size_t quote_end,
                 bool escaped, bool ascii);
  entry fail(std::size_t pos, std::string message);
  entry fail_expected(std::size_t pos, std::string_view expected);
  // Text format: byte i of the page with the line break Prometheus appends (NewPromParser) at size().
  int at(std::size_t i) const {
    return i < page_.size() ? static_cast<unsigned char>(page_[i]) : (i == page_.size() ? '\n' : -1);
  }

  std::string_view page_;
  format format_;
  std::size_t pos_ = 0;
  entry state_ = entry::invalid;  // the last entry returned; eof and invalid are final
  bool done_ = false;

  std::size_t series_begin_ = 0, series_end_ = 0, name_begin_ = 0, name_end_ = 0;
  std::vector<label_span> spans_;
  double value_ = 0;
  std::int64_t ts_ms_ = 0;
  bool has_ts_ = false;
  bool has_exemplar_ = false;
  bool labels_skipped_ = false;
  known_series_fn known_fn_ = nullptr;
  void* known_caller_ = nullptr;
  metric_type type_ = metric_type::unknown;
  std::string_view text_;
  std::string_view help_;
  std::string help_buf_;
  std::optional<parse_error> error_;
};

namespace detail {
// Go's strconv.ParseFloat(s, 64) restricted as Prometheus' parseFloat restricts it (no 'p', 'P', '_': so
// no hex floats, no digit separators). On failure `err` gets Go's message, e.g.
// `strconv.ParseFloat: parsing "true": invalid syntax`; overflow is an error too (value out of range).
bool parse_go_float(std::string_view s, double& out, std::string* err);
using scraper::valid_utf8;  // labels.hpp
// Go's %q of a byte string, for messages.
std::string go_quote(std::string_view s);
// Label value unescaping: \" \\ \n (text format and OpenMetrics); help in the text format: \\ \n only.
// Any other backslash sequence stays as it is (strings.Replacer semantics).
void unescape(std::string_view in, bool quotes, std::string& out);
// An OpenMetrics timestamp, float seconds `v` parsed from `token`, in milliseconds truncated toward zero
// (Go's int64(v*1000)); nullopt when it does not fit an int64. `v` is finite.
std::optional<std::int64_t> seconds_to_ms(std::string_view token, double v);
}  // namespace detail

}  // namespace sigv4::scraper
