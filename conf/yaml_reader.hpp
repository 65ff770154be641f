#pragma once
// Typed, line-aware reads from a yaml-cpp tree: each read either returns a value or records an error with
// its 1-based line and returns nothing, so one pass collects every problem in the file.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/values.hpp"

namespace sigv4::conf {

class yaml_reader {
 public:
  // Warnings (a key that loads but means nothing here, a discouraged setting) go to `warnings` when given.
  yaml_reader(const env_lookup& env, std::vector<config_error>& errors,
              std::vector<config_error>* warnings = nullptr)
      : env_(env), errors_(errors), warnings_(warnings) {}

  void error(int line, std::string message) { errors_.push_back({line, std::move(message)}); }
  void warn(int line, std::string message) {
    if (warnings_ != nullptr) warnings_->push_back({line, std::move(message)});
  }
  std::size_t error_count() const { return errors_.size(); }

  // 1-based line of a node; `fallback` for nodes without a position (an empty value has none worth citing).
  static int line_of(const YAML::Node& node, int fallback);

  // Calls `fn(key, value, key_line)` for each known key of a mapping, in file order. Unknown and repeated
  // keys are errors; `where` names the mapping in messages ("the top level", "limits"). A null node is an
  // empty mapping; anything else that is not a mapping is an error at `line`.
  using key_fn = std::function<void(std::string_view key, const YAML::Node& value, int key_line)>;
  void for_each_key(const YAML::Node& map, int line, std::string_view where,
                    const std::vector<std::string_view>& known, const key_fn& fn);

  // Each element of a sequence (null = empty), with its line.
  using element_fn = std::function<void(const YAML::Node& element, int line)>;
  void for_each_element(const YAML::Node& seq, int line, std::string_view key, const element_fn& fn);

  // A scalar with ${VAR} expanded; `key` names the setting in messages.
  std::optional<std::string> string(const YAML::Node& value, int key_line, std::string_view key);
  std::optional<bool> boolean(const YAML::Node& value, int key_line, std::string_view key);
  std::optional<long long> integer(const YAML::Node& value, int key_line, std::string_view key, long long min,
                                   long long max);
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& value, int key_line,
                                                    std::string_view key);
  std::optional<std::size_t> size(const YAML::Node& value, int key_line, std::string_view key);
  // A list of strings; null = empty.
  std::optional<std::vector<std::string>> strings(const YAML::Node& value, int key_line,
                                                  std::string_view key);

 private:
  std::optional<std::string> expand(std::string_view text, int line);

  const env_lookup& env_;
  std::vector<config_error>& errors_;
  std::vector<config_error>* warnings_;
};

template <typename T, typename U>
void assign(T& target, std::optional<U> value) {
  if (value) target = static_cast<T>(*value);
}

}  // namespace sigv4::conf
