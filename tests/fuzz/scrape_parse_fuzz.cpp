// libFuzzer target over both scrape parsers. The first byte picks the format (its low bit), the rest is
// the page. Besides "no crash, no sanitizer report, always terminates", it checks what the scrape loop
// relies on: every sample's labels() are sorted with unique names, carry a non-empty __name__ equal to
// metric_name(), have no empty value; a parsed NaN is never the stale marker; and series() is a cache key:
// the same bytes parsed alone give the same labels.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "scraper/textparse.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace sigv4::scraper;

using sigv4::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  format f = (data[0] & 1) ? format::openmetrics : format::text;
  std::string_view page(reinterpret_cast<const char*>(data) + 1, size - 1);
  parser p(page, f);
  labels ls, again;
  std::size_t entries = 0;
  for (;;) {
    entry e = p.next();
    check(++entries <= page.size() + 2, "every entry consumes input");
    if (e == entry::eof) {
      check(!p.error(), "eof has no error");
      check(p.next() == entry::eof, "eof is final");
      break;
    }
    if (e == entry::invalid) {
      check(p.error().has_value(), "invalid has an error");
      check(p.error()->line >= 1, "lines are 1-based");
      check(p.error()->line <= 2 + static_cast<std::size_t>(std::count(page.begin(), page.end(), '\n')),
            "error line is within the page");
      check(!p.error()->message.empty(), "error has a message");
      check(p.next() == entry::invalid, "invalid is final");
      break;
    }
    if (e == entry::help) check(detail::valid_utf8(p.help()), "help is UTF-8");
    if (e != entry::sample) continue;

    p.labels(ls);
    check(!ls.empty() && !p.metric_name().empty(), "a sample has a name");
    bool has_name = false;
    for (std::size_t i = 0; i < ls.size(); ++i) {
      check(!ls[i].value.empty(), "no empty label values");
      check(i == 0 || ls[i - 1].name < ls[i].name, "labels sorted, names unique");
      if (ls[i].name == "__name__") {
        has_name = true;
        check(ls[i].value == p.metric_name(), "__name__ is the metric name");
      }
    }
    check(has_name, "__name__ present");
    check(p.series().starts_with(p.metric_name()), "series starts with the name");
    if (std::isnan(p.value())) check(!is_stale_nan(p.value()), "never a stale marker");

    std::string alone(p.series());
    alone += f == format::openmetrics ? " 0\n# EOF\n" : " 0\n";
    parser q(alone, f);
    check(q.next() == entry::sample, "series bytes parse alone");
    q.labels(again);
    check(again == ls, "series bytes determine the labels");
  }
  return 0;
}
