#include "conf/yaml_reader.hpp"

#include <algorithm>
#include <charconv>

namespace sigv4::conf {
namespace {

std::string_view kind(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "empty";
}

bool valid_var_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

int yaml_reader::line_of(const YAML::Node& node, int fallback) {
  if (node.IsNull()) return fallback;
  auto line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

void yaml_reader::for_each_key(const YAML::Node& map, int line, std::string_view where,
                               const std::vector<std::string_view>& known, const key_fn& fn) {
  if (map.IsNull()) return;
  if (!map.IsMap()) {
    error(line_of(map, line), std::string(where) + " must be a mapping of keys, not " +
                                  std::string(kind(map)) +
                                  (map.IsScalar() ? " value '" + map.Scalar() + "'" : ""));
    return;
  }
  std::vector<std::pair<std::string, int>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    int key_line = line_of(it->first, line);
    if (!it->first.IsScalar()) {
      error(key_line, "keys in " + std::string(where) + " must be plain words");
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (std::ranges::find(known, std::string_view(key)) == known.end()) {
      std::string message = "unknown key '" + key + "' in " + std::string(where);
      if (auto hint = closest_word(key, known)) message += "; did you mean '" + std::string(*hint) + "'?";
      error(key_line, std::move(message));
      continue;
    }
    auto first = std::ranges::find(seen, key, &std::pair<std::string, int>::first);
    if (first != seen.end()) {
      error(key_line, "duplicate key '" + key + "' in " + std::string(where) + " (first on line " +
                          std::to_string(first->second) + ")");
      continue;
    }
    seen.emplace_back(key, key_line);
    fn(key, it->second, key_line);
  }
}

void yaml_reader::for_each_element(const YAML::Node& seq, int line, std::string_view key,
                                   const element_fn& fn) {
  if (seq.IsNull()) return;
  if (!seq.IsSequence()) {
    error(line_of(seq, line), quote(key) + " must be a list, not " +
                                  (seq.IsScalar() ? "'" + seq.Scalar() + "'" : std::string(kind(seq))));
    return;
  }
  for (const auto& element : seq) fn(element, line_of(element, line));
}

std::optional<std::string> yaml_reader::expand(std::string_view text, int line) {
  std::string out;
  for (;;) {
    auto start = text.find("${");
    if (start == std::string_view::npos) {
      out.append(text);
      return out;
    }
    out.append(text.substr(0, start));
    auto end = text.find('}', start + 2);
    if (end == std::string_view::npos) {
      error(line, "unterminated '${' in a value");
      return std::nullopt;
    }
    std::string name(text.substr(start + 2, end - start - 2));
    if (!valid_var_name(name)) {
      error(line, "invalid variable reference '${" + name + "}'");
      return std::nullopt;
    }
    const char* value = env_ ? env_(name.c_str()) : nullptr;
    if (value == nullptr) {
      error(line, "environment variable '" + name + "' is not set");
      return std::nullopt;
    }
    out.append(value);
    text.remove_prefix(end + 1);
  }
}

std::optional<std::string> yaml_reader::string(const YAML::Node& value, int key_line, std::string_view key) {
  if (value.IsNull()) {
    error(key_line, quote(key) + " needs a value");
    return std::nullopt;
  }
  if (!value.IsScalar()) {
    error(line_of(value, key_line), quote(key) + " must be a single value, not " + std::string(kind(value)));
    return std::nullopt;
  }
  return expand(value.Scalar(), line_of(value, key_line));
}

std::optional<bool> yaml_reader::boolean(const YAML::Node& value, int key_line, std::string_view key) {
  auto text = string(value, key_line, key);
  if (!text) return std::nullopt;
  auto l = lower(*text);
  if (l == "true") return true;
  if (l == "false") return false;
  error(line_of(value, key_line), quote(key) + " must be true or false, not '" + *text + "'");
  return std::nullopt;
}

std::optional<long long> yaml_reader::integer(const YAML::Node& value, int key_line, std::string_view key,
                                              long long min, long long max) {
  auto text = string(value, key_line, key);
  if (!text) return std::nullopt;
  long long n = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (text->empty() || ec != std::errc{} || ptr != text->data() + text->size() || n < min || n > max) {
    error(line_of(value, key_line), quote(key) + " must be a whole number from " + std::to_string(min) +
                                        " to " + std::to_string(max) + ", not '" + *text + "'");
    return std::nullopt;
  }
  return n;
}

std::optional<std::chrono::milliseconds> yaml_reader::duration(const YAML::Node& value, int key_line,
                                                               std::string_view key) {
  auto text = string(value, key_line, key);
  if (!text) return std::nullopt;
  auto d = parse_duration(*text);
  if (!d) {
    error(line_of(value, key_line),
          quote(key) + ": invalid duration '" + *text + "' (use e.g. 500ms, 30s, 5m, 1h30m)");
  }
  return d;
}

std::optional<std::size_t> yaml_reader::size(const YAML::Node& value, int key_line, std::string_view key) {
  auto text = string(value, key_line, key);
  if (!text) return std::nullopt;
  auto n = parse_size(*text);
  if (!n) {
    error(line_of(value, key_line),
          quote(key) + ": invalid size '" + *text + "' (use e.g. 1048576, 512KiB, 16MiB, 10MB)");
  }
  return n;
}

std::optional<std::vector<std::string>> yaml_reader::strings(const YAML::Node& value, int key_line,
                                                             std::string_view key) {
  std::vector<std::string> out;
  bool ok = value.IsNull() || value.IsSequence();
  for_each_element(value, key_line, key, [&](const YAML::Node& element, int line) {
    auto s = string(element, line, key);
    if (s) {
      out.push_back(std::move(*s));
    } else {
      ok = false;
    }
  });
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace sigv4::conf
