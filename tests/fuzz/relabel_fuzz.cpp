// Arbitrary rules over arbitrary label sets: never crashes, and the result is always a label set (sorted,
// unique names, no empty values), the same on a second run. Input is text, so seeds stay readable:
//   L<TAB>name<TAB>value
//   R<TAB>action<TAB>src1,src2<TAB>separator<TAB>regex<TAB>target<TAB>replacement<TAB>modulus<TAB>flags
// Trailing rule fields may be left out (Prometheus' defaults); flags: 'r' regex given, 's' source_labels
// given. An unknown action picks one by its first byte, so mutations still reach every action.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/relabel.hpp"

using namespace sigv4::scraper;

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

relabel_spec parse_rule(const std::vector<std::string_view>& f) {
  relabel_spec s;
  if (f.size() > 1) {
    if (auto a = parse_action(f[1])) {
      s.action = *a;
    } else if (!f[1].empty()) {
      s.action = static_cast<relabel_action>(static_cast<unsigned char>(f[1][0]) % 11);
    }
  }
  if (f.size() > 2 && !f[2].empty()) {
    for (auto n : split(f[2], ',')) s.source_labels.emplace_back(n);
  }
  if (f.size() > 3) s.separator = f[3];
  if (f.size() > 4) s.regex = f[4];
  if (f.size() > 5) s.target_label = f[5];
  if (f.size() > 6) s.replacement = f[6];
  if (f.size() > 7) s.modulus = std::strtoull(std::string(f[7]).c_str(), nullptr, 10);
  if (f.size() > 8) {
    s.regex_set = f[8].find('r') != std::string_view::npos;
    s.source_labels_set = f[8].find('s') != std::string_view::npos;
  }
  return s;
}

void check(const labels& ls) {
  for (std::size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].value.empty()) std::abort();
    if (i > 0 && !(ls[i - 1].name < ls[i].name)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  labels ls;
  relabel_rules rules;
  for (auto line : split(in, '\n')) {
    const auto f = split(line, '\t');
    if (f[0] == "L" && f.size() >= 3 && !f[2].empty()) {
      set(ls, f[1], f[2]);
    } else if (f[0] == "R" && rules.size() < 16) {
      auto r = compile(parse_rule(f));
      if (auto* rule = std::get_if<relabel_rule>(&r)) rules.push_back(std::move(*rule));
    }
  }
  check(ls);
  labels first = ls;
  const bool kept = process(first, rules);
  if (kept) check(first);
  labels second = ls;
  if (process(second, rules) != kept || (kept && second != first)) std::abort();
  return 0;
}
