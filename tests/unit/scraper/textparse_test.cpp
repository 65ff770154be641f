#include "scraper/textparse.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace sigv4::scraper {
namespace {

std::string number(double v) {
  if (std::isnan(v))
    return std::bit_cast<std::uint64_t>(v) == 0x7ff8000000000001ull ? "NaN" : "NaN(other bits)";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// One line per entry, the golden corpus' expected-output format (tests/data/scrape/README.md).
std::string dump(std::string_view page, format f) {
  parser p(page, f);
  std::string out;
  scraper::labels ls;
  for (;;) {
    entry e = p.next();
    switch (e) {
      case entry::sample: {
        p.labels(ls);
        out += "sample " + detail::go_quote(p.series()) + " " + to_string(ls) + " " + number(p.value());
        if (auto t = p.timestamp_ms()) out += " @" + std::to_string(*t);
        if (p.has_exemplar()) out += " exemplar";
        break;
      }
      case entry::type:
        out += "type " + std::string(p.metric_name()) + " " + std::string(to_string(p.type()));
        break;
      case entry::help:
        out += "help " + std::string(p.metric_name()) + " " + detail::go_quote(p.help());
        break;
      case entry::unit:
        out += "unit " + std::string(p.metric_name()) + " " + detail::go_quote(p.unit());
        break;
      case entry::comment:
        out += "comment " + detail::go_quote(p.comment());
        break;
      case entry::eof:
        out += "eof\n";
        return out;
      case entry::invalid:
        out += "error line " + std::to_string(p.error()->line) + ": " + p.error()->message + "\n";
        return out;
    }
    out += '\n';
  }
}

// dump() again, with a known_series hook that knows the series of `known` (series bytes -> their labels, as
// a full parse gave them): a known series' labels come from there. `asked` gets what the hook was asked.
std::string dump_with_known(std::string_view page, format f, const std::map<std::string, labels>& known,
                            std::vector<std::string>* asked = nullptr, int* skipped = nullptr) {
  struct hook {
    const std::map<std::string, labels>& known;
    std::vector<std::string>* asked;
    static bool fn(void* self, std::string_view series) {
      auto& h = *static_cast<hook*>(self);
      if (h.asked) h.asked->emplace_back(series);
      return h.known.contains(std::string(series));
    }
  } h{known, asked};
  parser p(page, f);
  p.set_known_series(&hook::fn, &h);
  std::string out;
  scraper::labels ls;
  for (;;) {
    entry e = p.next();
    if (e == entry::sample) {
      if (p.labels_skipped()) {
        ls = known.at(std::string(p.series()));
        if (skipped) ++*skipped;
      } else {
        p.labels(ls);
      }
      out += "sample " + detail::go_quote(p.series()) + " " + to_string(ls) + " " + number(p.value());
      if (auto t = p.timestamp_ms()) out += " @" + std::to_string(*t);
      if (p.has_exemplar()) out += " exemplar";
      out += '\n';
      continue;
    }
    // The other entries as dump() writes them.
    if (e == entry::eof) return out + "eof\n";
    if (e == entry::invalid) {
      return out + "error line " + std::to_string(p.error()->line) + ": " + p.error()->message + "\n";
    }
    if (e == entry::type)
      out += "type " + std::string(p.metric_name()) + " " + std::string(to_string(p.type()));
    if (e == entry::help) out += "help " + std::string(p.metric_name()) + " " + detail::go_quote(p.help());
    if (e == entry::unit) out += "unit " + std::string(p.metric_name()) + " " + detail::go_quote(p.unit());
    if (e == entry::comment) out += "comment " + detail::go_quote(p.comment());
    out += '\n';
  }
}

// Every sample's series bytes and labels, as a full parse gives them (up to an error).
std::map<std::string, labels> series_of(std::string_view page, format f) {
  std::map<std::string, labels> m;
  parser p(page, f);
  for (entry e = p.next(); e != entry::eof && e != entry::invalid; e = p.next()) {
    if (e != entry::sample) continue;
    p.labels(m[std::string(p.series())]);
  }
  return m;
}

std::string last_line(const std::string& s) {
  auto t = s.substr(0, s.size() - 1);
  return t.substr(t.rfind('\n') + 1);
}
std::string text_result(std::string_view page) {
  return last_line(dump(page, format::text));
}
std::string om_result(std::string_view page) {
  return last_line(dump(page, format::openmetrics));
}
std::string first_line(std::string_view page, format f) {
  auto s = dump(page, f);
  return s.substr(0, s.find('\n'));
}

// --- content type and Accept ---

TEST(textparse, content_type_picks_openmetrics_only_for_its_media_type) {
  EXPECT_EQ(format_for_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            format::openmetrics);
  EXPECT_EQ(format_for_content_type("application/openmetrics-text"), format::openmetrics);
  EXPECT_EQ(format_for_content_type("  Application/OpenMetrics-Text ;version=0.0.1"), format::openmetrics);
  EXPECT_EQ(format_for_content_type("application/openmetrics-text;version=\"1.0.0\";"), format::openmetrics);
  EXPECT_EQ(format_for_content_type("text/plain; version=0.0.4; charset=utf-8"), format::text);
  EXPECT_EQ(format_for_content_type(""), format::text);
  EXPECT_EQ(format_for_content_type("application/json"), format::text);
  // Unparsable: Go's mime.ParseMediaType fails, and 2.42 falls back to the text format.
  EXPECT_EQ(format_for_content_type("application/openmetrics-text; version"), format::text);
  EXPECT_EQ(format_for_content_type("application/openmetrics-text; a=1; A=2"), format::text);
  EXPECT_EQ(format_for_content_type("application/openmetrics-text/x"), format::text);
  EXPECT_EQ(format_for_content_type("application/openmetrics-text; v=\"unterminated"), format::text);
  EXPECT_EQ(
      format_for_content_type("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"),
      format::text);
}

TEST(textparse, accept_header_is_prometheus_2_42s) {
  EXPECT_EQ(scrape_accept_header,
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
}

// --- Go float syntax ---

TEST(textparse, floats_follow_go_parsefloat_without_hex_or_underscores) {
  auto ok = [](std::string_view s) {
    double v;
    return detail::parse_go_float(s, v, nullptr) ? number(v) : "error";
  };
  EXPECT_EQ(ok("1e3"), "1000");
  EXPECT_EQ(ok("+1.5"), "1.5");
  EXPECT_EQ(ok("-.5"), "-0.5");
  EXPECT_EQ(ok("5."), "5");
  EXPECT_EQ(ok("007"), "7");
  EXPECT_EQ(ok("1E-2"), "0.01");
  EXPECT_EQ(ok("+Inf"), "+Inf");
  EXPECT_EQ(ok("-inf"), "-Inf");
  EXPECT_EQ(ok("Infinity"), "+Inf");
  EXPECT_EQ(ok("nan"), "NaN(other bits)");  // parse_go_float itself does not normalise
  EXPECT_EQ(ok("1e-400"), "0");             // underflow is no error in Go
  EXPECT_EQ(ok("4.9e-324"), "5e-324");
  EXPECT_EQ(ok("+NaN"), "error");
  EXPECT_EQ(ok("infin"), "error");
  EXPECT_EQ(ok("."), "error");
  EXPECT_EQ(ok("1e"), "error");
  EXPECT_EQ(ok("e1"), "error");
  EXPECT_EQ(ok("1.2.3"), "error");
  EXPECT_EQ(ok("0x10"), "error");
  EXPECT_EQ(ok(""), "error");
  EXPECT_EQ(ok(" 1"), "error");
  std::string err;
  double v;
  EXPECT_FALSE(detail::parse_go_float("1e400", v, &err));
  EXPECT_EQ(err, "strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_FALSE(detail::parse_go_float("0x1p-2", v, &err));
  EXPECT_EQ(err, "unsupported character in float");
  EXPECT_FALSE(detail::parse_go_float("1_000", v, &err));
  EXPECT_EQ(err, "unsupported character in float");
  EXPECT_FALSE(detail::parse_go_float("true", v, &err));
  EXPECT_EQ(err, "strconv.ParseFloat: parsing \"true\": invalid syntax");
}

// The fast path (an integer mantissa over a power of ten) must round exactly as a full parse does.
TEST(textparse, float_fast_path_is_correctly_rounded) {
  std::uint64_t x = 88172645463325252ull;
  for (int k = 0; k < 200000; ++k) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::string digits = std::to_string(x % 1000000000000000ull);
    std::size_t dot = x % (digits.size() + 1);
    std::string s = digits.substr(0, dot) + "." + digits.substr(dot);
    if (x & 1) s = "-" + s;
    double got;
    ASSERT_TRUE(detail::parse_go_float(s, got, nullptr)) << s;
    ASSERT_EQ(got, std::strtod(s.c_str(), nullptr)) << s;
  }
}

TEST(textparse, utf8_validity_is_gos) {
  EXPECT_TRUE(detail::valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_TRUE(detail::valid_utf8(std::string_view("a\0b", 3)));
  EXPECT_FALSE(detail::valid_utf8("\xff"));
  EXPECT_FALSE(detail::valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(detail::valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(detail::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(detail::valid_utf8("\xe2\x82"));          // truncated
}

// --- text format ---

TEST(textparse_text, sample_with_labels_value_and_timestamp) {
  EXPECT_EQ(dump("http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n", format::text),
            "sample \"http_requests_total{method=\\\"post\\\",code=\\\"200\\\"}\" "
            "{__name__=\"http_requests_total\", code=\"200\", method=\"post\"} 1027 @1395066363000\neof\n");
}

TEST(textparse_text, label_value_escapes_and_unknown_escapes_kept) {
  EXPECT_EQ(first_line(R"(m{a="x\\y\"z\nw\tq"} 1)", format::text),
            R"(sample "m{a=\"x\\\\y\\\"z\\nw\\tq\"}" {__name__="m", a="x\\y\"z\nw\\tq"} 1)");
}

TEST(textparse_text, help_escapes_backslash_and_newline_only) {
  EXPECT_EQ(first_line(R"(# HELP m a\\b\nc\"d)", format::text), R"(help m "a\\b\nc\\\"d")");
}

TEST(textparse_text, whitespace_between_tokens_and_around_lines) {
  EXPECT_EQ(first_line("  \t m \t{ a = \"1\" , } \t 2 \t 3 \t\n", format::text),
            R"(sample "m \t{ a = \"1\" , }" {__name__="m", a="1"} 2 @3)");
  // The series starts at the name: leading blanks are not part of it (2.42 would put them in __name__).
  EXPECT_EQ(first_line("   up 1\n", format::text), R"(sample "up" {__name__="up"} 1)");
}

TEST(textparse_text, empty_braces_trailing_comma_and_no_final_newline) {
  EXPECT_EQ(
      dump("a{} 1\nb{x=\"1\",} 2", format::text),
      "sample \"a{}\" {__name__=\"a\"} 1\nsample \"b{x=\\\"1\\\",}\" {__name__=\"b\", x=\"1\"} 2\neof\n");
}

TEST(textparse_text, empty_label_value_means_no_label) {
  EXPECT_EQ(first_line(R"(m{a="",b="2"} 1)", format::text),
            R"(sample "m{a=\"\",b=\"2\"}" {__name__="m", b="2"} 1)");
}

TEST(textparse_text, special_values_and_normal_nan) {
  EXPECT_EQ(dump("a NaN\nb +Inf\nc -Inf\nd nan\ne 1e3\n", format::text),
            "sample \"a\" {__name__=\"a\"} NaN\nsample \"b\" {__name__=\"b\"} +Inf\n"
            "sample \"c\" {__name__=\"c\"} -Inf\nsample \"d\" {__name__=\"d\"} NaN\n"
            "sample \"e\" {__name__=\"e\"} 1000\neof\n");
  parser p("stale 0x7ff0000000000002\nn NaN\n", format::text);
  EXPECT_EQ(p.next(), entry::invalid);  // hex: refused
  parser q("n NaN\n", format::text);
  ASSERT_EQ(q.next(), entry::sample);
  EXPECT_FALSE(is_stale_nan(q.value()));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(q.value()), 0x7ff8000000000001ull);
}

TEST(textparse_text, comments_and_metadata) {
  EXPECT_EQ(
      dump("# a comment\n#x\n# HELPx y\n# \tTYPE m counter\n# TYPE u untyped\n# HELP m\n", format::text),
      "comment \"# a comment\"\ncomment \"#x\"\ncomment \"# HELPx y\"\ntype m counter\ntype u unknown\n"
      "help m \"\"\neof\n");
}

TEST(textparse_text, type_text_must_be_exact) {
  EXPECT_EQ(text_result("# TYPE m counter \n"), "error line 1: invalid metric type \"counter \"");
  EXPECT_EQ(text_result("# TYPE m unknown\n"), "error line 1: invalid metric type \"unknown\"");
  EXPECT_EQ(text_result("# TYPE m gaugehistogram\n"), "error line 1: invalid metric type \"gaugehistogram\"");
}

TEST(textparse_text, errors_carry_their_line) {
  EXPECT_EQ(text_result("a 1\n\nb{c='d'} 1\n"), "error line 3: expected label value, got \"'\"");
  EXPECT_EQ(text_result("a"), "error line 1: expected value after metric, got EOF");
  EXPECT_EQ(text_result("a\n"), "error line 1: expected value after metric, got \"\\n\"");
  EXPECT_EQ(text_result("a{b=\n"), "error line 1: expected label value, got \"\\n\"");
  EXPECT_EQ(text_result("a{\xff=\"foo\"} 1\n"), "error line 1: expected label name, got \"\\xff\"");
  EXPECT_EQ(text_result("x 1\na{b=\"\xff\"} 1\n"), "error line 2: invalid UTF-8 label value");
  EXPECT_EQ(text_result("a{b=\"\\\xff\"} 1\n"), "error line 1: invalid UTF-8 label value");
  EXPECT_EQ(om_result("a{b=\"\\\xff\"} 1\n# EOF\n"), "error line 1: invalid UTF-8 label value");
  EXPECT_EQ(text_result("a true\n"), "error line 1: strconv.ParseFloat: parsing \"true\": invalid syntax");
  EXPECT_EQ(text_result("something_weird{problem=\""), "error line 1: expected label value, got \"\\\"\"");
  EXPECT_EQ(text_result("empty_label_name{=\"\"} 0"), "error line 1: expected label name, got \"=\"");
  EXPECT_EQ(text_result("foo 1_2\n"), "error line 1: unsupported character in float");
  EXPECT_EQ(text_result("foo 0x1p-3\n"), "error line 1: unsupported character in float");
  EXPECT_EQ(text_result("foo 0 1_2\n"), "error line 1: expected next entry after timestamp, got \"_2\"");
  EXPECT_EQ(text_result("{a=\"ok\"} 1"), "error line 1: \"{\" is not a valid start token");
  EXPECT_EQ(text_result("# TYPE #\n"), "error line 1: expected metric name after TYPE, got \"#\"");
  EXPECT_EQ(text_result("# HELP #\n"), "error line 1: expected metric name after HELP, got \"#\"");
  EXPECT_EQ(text_result("# HELP m \xff\n"), "error line 1: help text is not a valid utf8 string");
  EXPECT_EQ(text_result("a 1 -5\n"), "error line 1: expected timestamp or new record, got \"-5\"");
  EXPECT_EQ(text_result("a 1 1.5\n"), "error line 1: expected next entry after timestamp, got \".5\"");
  EXPECT_EQ(text_result("a 1 99999999999999999999\n"),
            "error line 1: strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
  EXPECT_EQ(text_result("a 1e400\n"),
            "error line 1: strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_EQ(text_result("a{b=\"1\",,c=\"2\"} 1\n"), "error line 1: expected label name, got \",\"");
  EXPECT_EQ(text_result("a{b \"1\"} 1\n"), "error line 1: expected equal, got \"\\\"\"");
}

TEST(textparse_text, crlf_is_refused_as_in_prometheus) {
  EXPECT_EQ(text_result("a 1\r\n"), "error line 1: strconv.ParseFloat: parsing \"1\\r\": invalid syntax");
  EXPECT_EQ(text_result("a 1 2\r\n"), "error line 1: expected next entry after timestamp, got \"\\r\"");
}

TEST(textparse_text, duplicate_label_names_are_errors) {
  EXPECT_EQ(text_result("ok 1\nm{a=\"1\",a=\"2\"} 1\n"), "error line 2: label name \"a\" is not unique");
  EXPECT_EQ(text_result("m{__name__=\"x\"} 1\n"), "error line 1: label name \"__name__\" is not unique");
}

TEST(textparse_text, null_bytes_as_prometheus) {
  using namespace std::string_literals;
  EXPECT_EQ(first_line("m{a=\"abc\0\"} 1"s, format::text),
            "sample \"m{a=\\\"abc\\x00\\\"}\" {__name__=\"m\", a=\"abc\0\"} 1"s);
  EXPECT_EQ(text_result("a{b=\0\"ssss\"} 1\n"s), "error line 1: expected label value, got \"\\x00\"");
  EXPECT_EQ(text_result("a\0{b=\"ddd\"} 1"s), "error line 1: expected value after metric, got \"\\x00\"");
  // A NUL where a line starts is golex's end of input: the page ends there, as in 2.42.
  EXPECT_EQ(dump("a 1\n\0b 2\n"s, format::text), "sample \"a\" {__name__=\"a\"} 1\neof\n");
}

TEST(textparse_text, missing_comma_between_labels_is_accepted_as_2_42_does) {
  EXPECT_EQ(first_line(R"(m{a="1" b="2"} 1)", format::text),
            R"(sample "m{a=\"1\" b=\"2\"}" {__name__="m", a="1", b="2"} 1)");
}

TEST(textparse_text, labels_reuses_and_sorts) {
  parser p("m{z=\"1\",B=\"2\",a=\"3\"} 1\nn 2\n", format::text);
  scraper::labels ls;
  ASSERT_EQ(p.next(), entry::sample);
  p.labels(ls);
  EXPECT_EQ(to_string(ls), R"({B="2", __name__="m", a="3", z="1"})");
  ASSERT_EQ(p.next(), entry::sample);
  p.labels(ls);
  EXPECT_EQ(to_string(ls), R"({__name__="n"})");
  EXPECT_EQ(p.metric_name(), "n");
  EXPECT_EQ(p.next(), entry::eof);
  EXPECT_EQ(p.next(), entry::eof);
  EXPECT_FALSE(p.error());
}

TEST(textparse_text, invalid_is_final) {
  parser p("a{\n", format::text);
  EXPECT_EQ(p.next(), entry::invalid);
  EXPECT_EQ(p.next(), entry::invalid);
  ASSERT_TRUE(p.error());
  EXPECT_EQ(p.error()->line, 1u);
}

// --- OpenMetrics ---

TEST(textparse_om, eof_is_required_and_last) {
  EXPECT_EQ(om_result("# EOF"), "eof");
  EXPECT_EQ(om_result("# EOF\n"), "eof");
  EXPECT_EQ(om_result(""), "error line 1: data does not end with # EOF");
  EXPECT_EQ(om_result("metric 1\n"), "error line 2: data does not end with # EOF");
  EXPECT_EQ(om_result("metric 1"), "error line 1: data does not end with # EOF");
  EXPECT_EQ(om_result("# EOF\na 1"), "error line 2: unexpected data after # EOF");
  EXPECT_EQ(om_result("# EOF\n\n"), "error line 2: unexpected data after # EOF");
  EXPECT_EQ(om_result("# EOFa 1"), "error line 1: unexpected data after # EOF");
  EXPECT_EQ(om_result("metric_total 1 # {aa=\"bb\"} 4"), "error line 1: data does not end with # EOF");
}

TEST(textparse_om, strict_whitespace) {
  EXPECT_EQ(om_result("\n# EOF\n"), "error line 1: \"\\n\" is not a valid start token");
  EXPECT_EQ(om_result(" a 1\n# EOF\n"), "error line 1: \" \" is not a valid start token");
  EXPECT_EQ(om_result("a\t1\n# EOF\n"), "error line 1: expected value after metric, got \"\\t\"");
  EXPECT_EQ(om_result("a 1\t2\n# EOF\n"),
            "error line 1: strconv.ParseFloat: parsing \"1\\t2\": invalid syntax");
  EXPECT_EQ(om_result("a 1 2 \n# EOF\n"), "error line 1: expected next entry after timestamp, got \" \"");
  EXPECT_EQ(om_result("a 1 1 1\n# EOF\n"), "error line 1: expected next entry after timestamp, got \" \"");
  EXPECT_EQ(om_result("#  TYPE c counter\n# EOF\n"),
            "error line 1: expected HELP, TYPE, UNIT or EOF after \"# \", got \" \"");
  EXPECT_EQ(om_result("#\tTYPE c counter\n"), "error line 1: expected a space after \"#\", got \"\\t\"");
  EXPECT_EQ(om_result("# TYPE c  counter\n"), "error line 1: invalid metric type \" counter\"");
  EXPECT_EQ(om_result("# a comment\n# EOF\n"),
            "error line 1: expected HELP, TYPE, UNIT or EOF after \"# \", got \"a\"");
  EXPECT_EQ(om_result("a{b=\"c\", d=\"e\"} 1\n# EOF\n"), "error line 1: expected label name, got \" \"");
}

TEST(textparse_om, label_set_commas) {
  EXPECT_EQ(om_result("a{b=\"c\",} 1\n# EOF\n"), "error line 1: expected label name, got \"}\"");
  EXPECT_EQ(om_result("a{,b=\"c\"} 1\n# EOF\n"),
            "error line 1: expected label name or left brace, got \",\"");
  EXPECT_EQ(om_result("a{b=\"c\"d=\"e\"} 1\n# EOF\n"), "error line 1: expected comma, got \"d\"");
  EXPECT_EQ(om_result("a{b=\"c\",,d=\"e\"} 1\n# EOF\n"), "error line 1: expected label name, got \",\"");
  EXPECT_EQ(om_result("a{b=\"c\nd\"} 1\n# EOF\n"), "error line 1: expected label value, got \"\\\"\"");
  EXPECT_EQ(first_line("a{} 1\n# EOF\n", format::openmetrics), R"(sample "a{}" {__name__="a"} 1)");
}

TEST(textparse_om, metadata) {
  EXPECT_EQ(
      dump("# TYPE a gaugehistogram\n# UNIT a_seconds seconds\n# HELP a x\\\"y\\\\z\\n\n# UNIT b \n# EOF\n",
           format::openmetrics),
      "type a gaugehistogram\nunit a_seconds \"seconds\"\nhelp a \"x\\\"y\\\\z\\n\"\nunit b \"\"\neof\n");
  EXPECT_EQ(om_result("# TYPE u untyped\n# EOF\n"), "error line 1: invalid metric type \"untyped\"");
  EXPECT_EQ(om_result("# TYPE m\n# EOF\n"), "error line 1: expected text in TYPE");
  EXPECT_EQ(om_result("# HELP m\n# EOF\n"), "error line 1: expected text in HELP");
  EXPECT_EQ(om_result("# UNIT metric suffix\n# EOF\n"),
            "error line 1: unit not a suffix of metric \"metric\"");
  EXPECT_EQ(om_result("# UNIT metricsuffix suffix\n# EOF\n"),
            "error line 1: unit not a suffix of metric \"metricsuffix\"");
  EXPECT_EQ(om_result("# UNIT m suffix\n# EOF\n"), "error line 1: unit not a suffix of metric \"m\"");
  EXPECT_EQ(om_result("# HELP \n# EOF\n"), "error line 1: expected metric name after HELP, got \"\\n\"");
}

TEST(textparse_om, timestamps_are_float_seconds) {
  EXPECT_EQ(first_line("a 1 1520879607.789\n# EOF\n", format::openmetrics),
            R"(sample "a" {__name__="a"} 1 @1520879607789)");
  // 1.001 * 1000 is 1000.9999999999999 in binary floating point; the decimal means 1001 ms.
  EXPECT_EQ(first_line("a 1 1.001\n# EOF\n", format::openmetrics), R"(sample "a" {__name__="a"} 1 @1001)");
  EXPECT_EQ(first_line("a 1 -1.5\n# EOF\n", format::openmetrics), R"(sample "a" {__name__="a"} 1 @-1500)");
  EXPECT_EQ(first_line("a 1 1.5e3\n# EOF\n", format::openmetrics), R"(sample "a" {__name__="a"} 1 @1500000)");
  EXPECT_EQ(first_line("a 1 0.0009\n# EOF\n", format::openmetrics), R"(sample "a" {__name__="a"} 1 @0)");
  EXPECT_EQ(om_result("a 1 NaN\n# EOF\n"), "error line 1: invalid timestamp");
  EXPECT_EQ(om_result("a 1 -Inf\n# EOF\n"), "error line 1: invalid timestamp");
  EXPECT_EQ(om_result("a 1 1e300\n# EOF\n"), "error line 1: invalid timestamp");
  EXPECT_EQ(om_result("a 1 1z\n# EOF\n"), "error line 1: strconv.ParseFloat: parsing \"1z\": invalid syntax");
}

TEST(textparse_om, exemplars_are_checked_and_skipped) {
  EXPECT_EQ(first_line("a_total 1 # {trace_id=\"x\"} 1 123\n# EOF\n", format::openmetrics),
            R"(sample "a_total" {__name__="a_total"} 1 exemplar)");
  EXPECT_EQ(first_line("a_bucket{le=\"1\"} 1 5 # {} 1\n# EOF\n", format::openmetrics),
            R"(sample "a_bucket{le=\"1\"}" {__name__="a_bucket", le="1"} 1 @5000 exemplar)");
  EXPECT_EQ(om_result("custom_metric 1 # {aa=\"bb\"} 1\n# EOF\n"),
            "error line 1: metric name custom_metric does not support exemplars");
  EXPECT_EQ(om_result("c_total 1 # {aa=bb}\n# EOF\n"), "error line 1: expected label value, got \"bb\"");
  EXPECT_EQ(om_result("c_total 1 # {aa=\"bb\"}\n# EOF\n"),
            "error line 1: expected value after exemplar labels, got \"\\n\"");
  EXPECT_EQ(om_result("c_total 1 # {aa=\"bb\",,cc=\"dd\"} 1\n# EOF\n"),
            "error line 1: expected label name, got \",\"");
  EXPECT_EQ(om_result("c_total 1 # {aa=\"bb\"} 0x1p-3\n# EOF\n"),
            "error line 1: unsupported character in float");
  EXPECT_EQ(om_result("c_total 1 # {aa=\"bb\"} 1 NaN\n# EOF\n"), "error line 1: invalid exemplar timestamp");
  EXPECT_EQ(om_result("c_total 1 # {aa=\"bb\"} 1 2 3\n# EOF\n"),
            "error line 1: expected next entry after exemplar timestamp, got \" \"");
  using namespace std::string_literals;
  EXPECT_EQ(om_result("c_total 1 # {b=\"\0ss\"} 1\n# EOF\n"s),
            "error line 1: expected label value, got \"\\\"\"");
}

TEST(textparse_om, nan_is_the_normal_nan) {
  parser p("a NaN\n# EOF\n", format::openmetrics);
  ASSERT_EQ(p.next(), entry::sample);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(p.value()), 0x7ff8000000000001ull);
}

// --- golden corpus: tests/data/scrape/<name>.prom or <name>.om, expected entries in <name>.expected ---

TEST(textparse_known_series, asks_with_the_bytes_to_the_first_brace) {
  const std::string page = "a{x=\"1\"} 1\nb 2\nc {y=\"}\"} 3 1000\n";
  std::vector<std::string> asked;
  const auto got = dump_with_known(page, format::text, {}, &asked);
  EXPECT_EQ(got, dump(page, format::text)) << "nothing known: a full parse";
  EXPECT_EQ(asked, (std::vector<std::string>{"a{x=\"1\"}", "b", "c {y=\"}"}));
}

TEST(textparse_known_series, a_known_series_is_not_lexed_again) {
  // Bytes the hook knows are taken as they are: here a label text that would be refused (a repeated name).
  const std::string page = "a{x=\"1\",x=\"2\"} 1 1000\n";
  EXPECT_EQ(text_result(page).substr(0, 5), "error");
  std::map<std::string, labels> known{{"a{x=\"1\",x=\"2\"}", {{"__name__", "a"}}}};
  int skipped = 0;
  EXPECT_EQ(dump_with_known(page, format::text, known, nullptr, &skipped),
            "sample \"a{x=\\\"1\\\",x=\\\"2\\\"}\" {__name__=\"a\"} 1 @1000\neof\n");
  EXPECT_EQ(skipped, 1);
  // An unknown candidate (a '}' inside a value ends it early) gets the full parse.
  const std::string tricky = "c{y=\"}\"} 3\n";
  known = {{"c{y=\"}\"}", {{"__name__", "c"}, {"y", "}"}}}};
  skipped = 0;
  EXPECT_EQ(dump_with_known(tricky, format::text, known, nullptr, &skipped), dump(tricky, format::text));
  EXPECT_EQ(skipped, 0);
}

TEST(textparse_known_series, corpus_parses_alike_when_every_series_is_known) {
  // Each corpus page parsed again with every series it has known: the same entries, values, timestamps,
  // exemplars and errors (the labels from the first parse).
  namespace fs = std::filesystem;
  int skipped = 0, pages = 0;
  for (const auto& f : fs::directory_iterator(fs::path(SIGV4_TEST_DATA_DIR) / "scrape")) {
    const auto ext = f.path().extension();
    if (ext != ".prom" && ext != ".om") continue;
    const format fmt = ext == ".om" ? format::openmetrics : format::text;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(dump_with_known(page, fmt, series_of(page, fmt), nullptr, &skipped), dump(page, fmt))
        << f.path();
    ++pages;
  }
  EXPECT_GE(pages, 10);
  EXPECT_GE(skipped, 50);
}

TEST(textparse_golden, corpus) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(SIGV4_TEST_DATA_DIR) / "scrape";
  bool update = std::getenv("SIGV4_UPDATE_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    auto ext = f.path().extension();
    if (ext != ".prom" && ext != ".om") continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string got = dump(page, ext == ".om" ? format::openmetrics : format::text);
    fs::path want_path = f.path();
    want_path.replace_extension(".expected");
    if (update) std::ofstream(want_path, std::ios::binary) << got;
    std::ifstream w(want_path, std::ios::binary);
    ASSERT_TRUE(w) << "missing " << want_path;
    std::string want((std::istreambuf_iterator<char>(w)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got, want) << f.path();
    ++cases;
  }
  EXPECT_GE(cases, 10);
}

}  // namespace
}  // namespace sigv4::scraper
