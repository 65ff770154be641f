#pragma once
// Prometheus relabeling (relabel_configs / metric_relabel_configs), with the semantics of Prometheus 2.42's
// model/relabel: same defaults, same anchoring (^(?:RE)$), Go's regexp.Expand template rules, hashmod on
// md5, and the checks Prometheus makes when it loads a config. Pure: RE2 and OpenSSL's md5, no I/O.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "scraper/labels.hpp"

namespace re2 {
class RE2;
}

namespace sigv4::scraper {

enum class relabel_action {
  replace,
  keep,
  drop,
  keepequal,
  dropequal,
  hashmod,
  labelmap,
  labeldrop,
  labelkeep,
  lowercase,
  uppercase
};

// Case-insensitive, as Prometheus' Action.UnmarshalYAML.
std::optional<relabel_action> parse_action(std::string_view s);
// The message Prometheus gives for an action parse_action refused: "relabel action cannot be empty" for ""
// (also what an `action:` with a null value becomes), else `unknown relabel action "s"`.
std::string action_error(std::string_view s);
std::string_view to_string(relabel_action a);

// One entry of relabel_configs as the config file says it, Prometheus' defaults pre-filled.
// Prometheus compares separator, replacement, modulus and target_label with the defaults by value, so an
// explicit default is the same as none; only two things need to be known as "written":
//  - regex_set: any `regex:` key, even `regex: (.*)`, counts as a changed regex for keepequal/dropequal
//    (Go compares the compiled regex's pointer). `regex:` with a null value means regex "" (matches only "").
//  - source_labels_set: `source_labels: []` is not the same as no key for labeldrop/labelkeep.
// A null `separator:` or `replacement:` is "" (not the default), as yaml.v2 zeroes the field.
struct relabel_spec {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  std::uint64_t modulus = 0;
  std::string target_label;
  std::string replacement = "$1";
  relabel_action action = relabel_action::replace;
  bool regex_set = false;
  bool source_labels_set = false;
};

namespace detail {
// A Go regexp.Expand template, resolved against one regex at compile time: literal text and capture group
// references; references to groups the regex does not have expand to nothing, so they are left out.
struct template_piece {
  std::string literal;  // used when group < 0
  int group = -1;
};
struct expand_template {
  std::vector<template_piece> pieces;
  bool has_groups = false;
};
// The rune at s[i] and its width as Go's utf8.DecodeRuneInString sees them: invalid or truncated input is
// (U+FFFD, 1); the end is (0, 0).
std::pair<char32_t, std::size_t> decode_rune(std::string_view s, std::size_t i);
void append_rune(std::string& out, char32_t r);
}  // namespace detail

// A compiled, validated rule. Immutable and cheap to copy (the regex is shared); safe to use from many
// threads at once.
class relabel_rule {
 public:
  relabel_action action() const { return action_; }
  const std::string& regex() const { return regex_src_; }
  // Equal for rules compiled from equal specs (a hash of every field that decides what the rule does): a
  // scrape cache that reuses what one rule set made of a series can tell when a reload changed the set.
  std::uint64_t fingerprint() const { return fingerprint_; }
  // The rule can give a label a name that is not a valid label name (labelmap's expansion, lowercase's or
  // uppercase's target_label as written), which the scrape then refuses; no other rule can.
  bool may_name_invalid_label() const { return may_name_invalid_label_; }

 private:
  friend std::variant<relabel_rule, std::string> compile(const relabel_spec& spec);
  friend struct rule_engine;
  relabel_rule() = default;

  relabel_action action_ = relabel_action::replace;
  std::vector<std::string> source_labels_;
  std::string separator_;
  std::string regex_src_;
  std::shared_ptr<const re2::RE2> re_;
  int groups_ = 0;  // capturing groups in re_
  std::uint64_t modulus_ = 0;
  std::string target_label_;  // as written (2.42 deletes this name, unexpanded, on an empty replace result)
  detail::expand_template target_;
  detail::expand_template replacement_;
  std::uint64_t fingerprint_ = 0;
  // What a yes/no match of the regex needs (relabel_process.cpp): most rules in use are a name or a name
  // prefix, which a comparison answers without RE2.
  enum class match_kind : std::uint8_t { regex, literal, prefix };  // prefix: match_text_ then `.*`
  match_kind match_kind_ = match_kind::regex;
  std::string match_text_;
  bool matches_empty_ = false;  // the regex matches ""
  bool may_name_invalid_label_ = false;
};

// The rule, or the message Prometheus would give for the spec (its words where it has them).
std::variant<relabel_rule, std::string> compile(const relabel_spec& spec);

using relabel_rules = std::vector<relabel_rule>;

// Applies `rules` in order to `ls` (sorted on entry, sorted on return). Returns false as soon as a rule
// drops the set; `ls` is then unspecified. Rules that change nothing allocate nothing: scratch space is
// per thread and reused.
bool process(labels& ls, const relabel_rules& rules);

// Helpers exposed for tests and for the config loader's own checks.
// model.LabelName.IsValid as of Prometheus 2.42: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_valid_label_name(std::string_view name);
// Prometheus' relabelTarget: what target_label (and labelmap's replacement) may look like before expansion.
bool is_valid_relabel_target(std::string_view s);
// The value hashmod writes: big-endian uint64 of md5(s)'s last 8 bytes, modulo `modulus` (> 0).
std::uint64_t hashmod_value(std::string_view s, std::uint64_t modulus);

}  // namespace sigv4::scraper
