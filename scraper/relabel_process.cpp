// Applying compiled rules (relabel.cpp compiles and validates them). Each rule sees the label set the
// previous rule left, as in Prometheus 2.42's Process; changes are made in place on the sorted vector.
#include <locale.h>
#include <re2/re2.h>
#include <wctype.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "scraper/relabel.hpp"

namespace sigv4::scraper {

namespace {

// Reused between calls on one thread so that a rule that changes nothing allocates nothing.
struct scratch {
  std::string joined;
  std::string target;
  std::string value;
  std::vector<re2::StringPiece> groups;
  std::vector<std::pair<std::string, std::string>> pending;  // labelmap's sets, made after its scan
  std::string sanitized;
  std::vector<std::uint32_t> offsets;
};

// Eight bytes at a time: every relabeled label value of every sample comes through here.
bool is_ascii(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & 0x8080808080808080ull) != 0) return false;
  }
  for (; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
  }
  return true;
}

// What RE2 matches. Go's regexp reads an invalid UTF-8 byte as U+FFFD (so `.` matches it); RE2 matches no
// character there. So invalid text is matched as a copy with each such byte replaced by U+FFFD, and matched
// ranges are mapped back to the original bytes, which are what Go's expansion copies.
class subject {
 public:
  subject(std::string_view s, scratch& sc) : orig_(s), text_(s) {
    if (is_ascii(s) || valid_utf8(s)) return;
    sc.sanitized.clear();
    sc.offsets.clear();
    for (std::size_t i = 0; i < s.size();) {
      const auto [r, w] = detail::decode_rune(s, i);
      const bool invalid = r == 0xfffd && w == 1;
      const std::size_t before = sc.sanitized.size();
      if (invalid) {
        sc.sanitized.append("\xef\xbf\xbd");
      } else {
        sc.sanitized.append(s.substr(i, w));
      }
      for (std::size_t k = before; k < sc.sanitized.size(); ++k) {
        sc.offsets.push_back(static_cast<std::uint32_t>(k == before || invalid ? i : i + (k - before)));
      }
      i += w;
    }
    sc.offsets.push_back(static_cast<std::uint32_t>(s.size()));
    text_ = sc.sanitized;
    offsets_ = &sc.offsets;
  }
  std::string_view text() const { return text_; }
  // The original bytes of a range of text().
  std::string_view original(std::size_t b, std::size_t e) const {
    if (offsets_ == nullptr) return orig_.substr(b, e - b);
    return orig_.substr((*offsets_)[b], (*offsets_)[e] - (*offsets_)[b]);
  }
  std::string_view original(const re2::StringPiece& p) const {
    const auto b = static_cast<std::size_t>(p.data() - text_.data());
    return original(b, b + p.size());
  }

 private:
  std::string_view orig_;
  std::string_view text_;
  const std::vector<std::uint32_t>* offsets_ = nullptr;
};

labels::iterator find_slot(labels& ls, std::string_view name) {
  return std::ranges::lower_bound(ls, name, name_less,
                                  [](const label& l) { return std::string_view(l.name); });
}

std::string_view value_of(const labels& ls, std::string_view name) {
  auto it =
      std::ranges::lower_bound(ls, name, name_less, [](const label& l) { return std::string_view(l.name); });
  return it != ls.end() && it->name == name ? std::string_view(it->value) : std::string_view();
}

// labels.Builder.Set: an empty value deletes. Leaves an equal value alone (no write, no allocation).
void put(labels& ls, std::string_view name, std::string_view value) {
  auto it = find_slot(ls, name);
  const bool found = it != ls.end() && it->name == name;
  if (value.empty()) {
    if (found) ls.erase(it);
  } else if (found) {
    if (it->value != value) it->value.assign(value);
  } else {
    ls.insert(it, label{std::string(name), std::string(value)});
  }
}

bool search(const re2::RE2& re, std::string_view text, std::size_t from, re2::StringPiece* sub, int n) {
  return re.Match(re2::StringPiece(text.data(), text.size()), from, text.size(), re2::RE2::UNANCHORED, sub,
                  n);
}

bool search(const re2::RE2& re, const subject& subj, std::size_t from, re2::StringPiece* sub, int n) {
  return search(re, subj.text(), from, sub, n);
}

void expand(const detail::expand_template& t, const subject& subj, const re2::StringPiece* groups,
            std::string& out) {
  for (const auto& p : t.pieces) {
    if (p.group < 0) {
      out.append(p.literal);
    } else if (groups[p.group].data() != nullptr) {
      out.append(subj.original(groups[p.group]));
    }
  }
}

// Go's Regexp.ReplaceAllString. With the ^(?:...)$ wrapping there is at most one match, the whole name; the
// loop is kept for regexes such as "a)|(b" that break out of the wrapping, as Go's does.
void replace_all(const re2::RE2& re, const subject& subj, const detail::expand_template& t, int n,
                 std::vector<re2::StringPiece>& sub, std::string& out) {
  const std::string_view src = subj.text();
  out.clear();
  std::size_t last_end = 0;
  std::size_t pos = 0;
  while (pos <= src.size() && search(re, src, pos, sub.data(), n)) {
    const auto a0 = static_cast<std::size_t>(sub[0].data() - src.data());
    const std::size_t a1 = a0 + sub[0].size();
    out.append(subj.original(last_end, a0));
    // No replacement for an empty match right after another match.
    if (a1 > last_end || a0 == 0) expand(t, subj, sub.data(), out);
    last_end = a1;
    const std::size_t width = detail::decode_rune(src, pos).second;
    if (pos + width > a1) {
      pos += width;
    } else if (pos + 1 > a1) {
      pos++;
    } else {
      pos = a1;
    }
  }
  out.append(subj.original(last_end, src.size()));
}

locale_t utf8_ctype() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

// strings.ToLower / ToUpper: ASCII bytewise; otherwise rune by rune with Unicode simple case mapping (glibc's
// C.UTF-8 tables stand in for Go's unicode package), and every invalid byte becomes U+FFFD as in strings.Map.
void change_case(std::string_view in, bool upper, std::string& out) {
  out.clear();
  const bool ascii = std::ranges::all_of(in, [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    for (char c : in) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out += c;
    }
    return;
  }
  const locale_t loc = utf8_ctype();
  for (std::size_t i = 0; i < in.size();) {
    auto [r, w] = detail::decode_rune(in, i);
    if (loc != static_cast<locale_t>(nullptr)) {
      const auto wc = static_cast<wint_t>(r);
      r = static_cast<char32_t>(upper ? towupper_l(wc, loc) : towlower_l(wc, loc));
    } else if (r < 0x80) {
      r = static_cast<char32_t>(upper ? std::toupper(static_cast<int>(r))
                                      : std::tolower(static_cast<int>(r)));
    }
    detail::append_rune(out, r);
    i += w;
  }
}

}  // namespace

struct rule_engine {
  static std::string_view source_value(const relabel_rule& r, const labels& ls, std::string& joined) {
    if (r.source_labels_.size() == 1) return value_of(ls, r.source_labels_.front());
    joined.clear();
    for (std::size_t i = 0; i < r.source_labels_.size(); ++i) {
      if (i > 0) joined.append(r.separator_);
      joined.append(value_of(ls, r.source_labels_[i]));
    }
    return joined;
  }

  // Whether the rule's (anchored) regex matches v.
  static bool matches(const relabel_rule& r, std::string_view v, scratch& s) {
    using enum relabel_rule::match_kind;
    switch (r.match_kind_) {
      case literal:
        return v == r.match_text_;
      case prefix:
        return v.starts_with(r.match_text_) && v.find('\n', r.match_text_.size()) == std::string_view::npos;
      case regex:
        break;
    }
    if (v.empty()) return r.matches_empty_;
    return search(*r.re_, subject(v, s), 0, nullptr, 0);
  }

  // False when the rule drops the set.
  static bool apply(const relabel_rule& r, labels& ls, scratch& s) {
    using enum relabel_action;
    const re2::RE2& re = *r.re_;
    // A view into `ls` or s.joined: everything that reads it runs before `ls` changes.
    const std::string_view val = source_value(r, ls, s.joined);
    const int n = r.groups_;
    if (s.groups.size() < static_cast<std::size_t>(std::max(n, 1))) s.groups.resize(std::max(n, 1));
    switch (r.action_) {
      case drop:
        return !matches(r, val, s);
      case keep:
        return matches(r, val, s);
      case dropequal:
        return value_of(ls, r.target_label_) != val;
      case keepequal:
        return value_of(ls, r.target_label_) == val;
      case replace: {
        if (val.empty() && !r.matches_empty_) break;  // a missing source label, usually
        const subject subj(val, s);
        if (n == 0 ? !matches(r, val, s) : !search(re, subj, 0, s.groups.data(), n)) break;
        s.target.clear();
        expand(r.target_, subj, s.groups.data(), s.target);
        s.value.clear();
        expand(r.replacement_, subj, s.groups.data(), s.value);
        // 2.42 deletes the label named as target_label is written (unexpanded) when the expanded name is
        // invalid or the value empty; later versions changed both.
        if (!is_valid_label_name(s.target) || s.value.empty()) {
          put(ls, r.target_label_, {});
        } else {
          put(ls, s.target, s.value);
        }
        break;
      }
      case lowercase:
      case uppercase:
        change_case(val, r.action_ == uppercase, s.value);
        put(ls, r.target_label_, s.value);
        break;
      case hashmod: {
        char buf[24];
        const auto res = std::to_chars(buf, buf + sizeof buf, hashmod_value(val, r.modulus_));
        put(ls, r.target_label_, std::string_view(buf, static_cast<std::size_t>(res.ptr - buf)));
        break;
      }
      case labelmap: {
        std::size_t k = 0;
        for (const auto& l : ls) {
          const subject subj(l.name, s);
          if (!search(re, subj, 0, nullptr, 0)) continue;
          if (k == s.pending.size()) s.pending.emplace_back();
          replace_all(re, subj, r.replacement_, std::max(n, 1), s.groups, s.pending[k].first);
          s.pending[k].second.assign(l.value);
          ++k;
        }
        for (std::size_t i = 0; i < k; ++i) put(ls, s.pending[i].first, s.pending[i].second);
        break;
      }
      case labeldrop:
        std::erase_if(ls, [&](const label& l) { return matches(r, l.name, s); });
        break;
      case labelkeep:
        std::erase_if(ls, [&](const label& l) { return !matches(r, l.name, s); });
        break;
    }
    return true;
  }
};

bool process(labels& ls, const relabel_rules& rules) {
  thread_local scratch s;
  for (const auto& r : rules) {
    if (!rule_engine::apply(r, ls, s)) return false;
  }
  return true;
}

}  // namespace sigv4::scraper
