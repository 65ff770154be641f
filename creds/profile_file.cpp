#include "creds/profile_file.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace sigv4::creds {
namespace {

constexpr std::string_view whitespace = " \t\n\r\f\v";

std::string_view trim(std::string_view s) {
  auto b = s.find_first_not_of(whitespace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(whitespace) - b + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : char(c); });
  return out;
}

// Python's str.splitlines() as file iteration sees it with universal newlines: \n, \r\n and \r end a line.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// An option's raw lines, joined only at the end as RawConfigParser does; `lines` remembers each
// continuation's line number so a bad nested line can be reported.
struct raw_option {
  std::vector<std::string> text;
  std::vector<int> line;
};
using raw_section = std::vector<std::pair<std::string, raw_option>>;  // file order

raw_option* find(raw_section& s, std::string_view key) {
  for (auto& [k, v] : s)
    if (k == key) return &v;
  return nullptr;
}

std::string at(std::string_view path, int line, std::string_view why) {
  return std::string(path) + ":" + std::to_string(line) + ": " + std::string(why);
}

// Joins an option (Python: '\n'.join(lines).rstrip()) and, when the value starts with a newline, parses it
// as botocore's one-level sub-section. Returns an error message or "".
std::string store(profile_settings& out, const std::string& key, const raw_option& opt,
                  std::string_view path) {
  std::string joined;
  for (std::size_t i = 0; i < opt.text.size(); ++i) joined += (i ? "\n" : "") + opt.text[i];
  joined.erase(joined.find_last_not_of(whitespace) + 1);
  if (joined.empty() || joined.front() != '\n') {
    out.values[key] = std::move(joined);
    return {};
  }
  auto& nested = out.subsections[key];
  for (std::size_t i = 1; i < opt.text.size(); ++i) {
    auto line = trim(opt.text[i]);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      return at(path, opt.line[i], "expected `key = value` in the sub-section `" + key + "`");
    nested[std::string(trim(line.substr(0, eq)))] = std::string(trim(line.substr(eq + 1)));
  }
  return {};
}

// Python's shlex.split (POSIX mode, no comments), which botocore applies to "profile NAME" section names.
std::optional<std::vector<std::string>> shell_split(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) words.push_back(std::exchange(word, {}));
      in_word = false;
    } else if (c == '\\') {
      if (++i == s.size()) return std::nullopt;
      word += s[i];
      in_word = true;
    } else if (c == '\'' || c == '"') {
      auto close = i + 1;
      for (; close < s.size() && s[close] != c; ++close) {
        if (c == '"' && s[close] == '\\' && close + 1 < s.size() &&
            (s[close + 1] == '"' || s[close + 1] == '\\'))
          ++close;
        word += s[close];
      }
      if (close == s.size()) return std::nullopt;
      i = close;
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::is_regular_file(status)) return std::nullopt;  // botocore: not a file = no file
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  if (in) buf << in.rdbuf();
  if (!in || in.bad()) {
    error = path + ": cannot read: " + std::generic_category().message(errno);
    return std::nullopt;
  }
  return std::move(buf).str();
}

}  // namespace

const std::string* profile_settings::value(std::string_view key) const {
  auto it = values.find(key);
  return it == values.end() ? nullptr : &it->second;
}

ini_parse_result parse_ini(std::string_view text, std::string_view path) {
  ini_parse_result result;
  auto fail = [&](int line, std::string_view why) {
    result.error = at(path, line, why);
    result.sections.clear();
    return result;
  };
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a BOM (Python would fail on it)

  std::vector<std::pair<std::string, raw_section>> sections;
  raw_section defaults;
  raw_section* current = nullptr;
  std::string option;  // the option that continuation lines extend; empty after a section header
  std::size_t indent_level = 0;
  int lineno = 0;
  for (auto line : split_lines(text)) {
    ++lineno;
    auto value = trim(line);
    bool comment = value.starts_with('#') || value.starts_with(';');
    if (comment || value.empty()) {
      // A blank line inside a value is kept (empty_lines_in_values); a comment line is dropped. Its line
      // number too: `text` and `line` stay parallel for the sub-section error below a blank line.
      if (!comment && current != nullptr && !option.empty()) {
        auto* opt = find(*current, option);
        opt->text.emplace_back();
        opt->line.push_back(lineno);
      }
      continue;
    }
    auto indent = line.find_first_not_of(whitespace);
    if (current != nullptr && !option.empty() && indent > indent_level) {
      auto* opt = find(*current, option);
      opt->text.emplace_back(value);
      opt->line.push_back(lineno);
      continue;
    }
    indent_level = indent;
    // Python's `\[(.+)\]` matched at the start: the header runs to the last `]`; anything after is ignored.
    auto close = value.rfind(']');
    if (value.starts_with('[') && close != std::string_view::npos && close >= 2) {
      std::string name(value.substr(1, close - 1));
      option.clear();
      if (name == "DEFAULT") {
        current = &defaults;
        continue;
      }
      for (auto& [n, s] : sections)
        if (n == name) return fail(lineno, "duplicate section [" + name + "]");
      current = &sections.emplace_back(std::move(name), raw_section{}).second;
      continue;
    }
    if (current == nullptr) return fail(lineno, "a `key = value` line before the first [section]");
    auto delim = value.find_first_of("=:");
    if (delim == std::string_view::npos) return fail(lineno, "expected `key = value` or `[section]`");
    auto key = lower(trim(value.substr(0, delim)));
    if (key.empty()) return fail(lineno, "empty key before `" + std::string(1, value[delim]) + "`");
    if (find(*current, key) != nullptr) return fail(lineno, "duplicate key `" + key + "`");
    current->emplace_back(key, raw_option{{std::string(trim(value.substr(delim + 1)))}, {lineno}});
    option = std::move(key);
  }

  for (auto& [name, raw] : sections) {
    auto& section = result.sections.emplace_back(ini_section{name, {}});
    // [DEFAULT]'s keys appear in every section that lacks them (RawConfigParser.options()).
    std::string err;
    for (auto& [key, opt] : raw)
      if (err.empty()) err = store(section.settings, key, opt, path);
    for (auto& [key, opt] : defaults)
      if (err.empty() && !section.settings.has(key)) err = store(section.settings, key, opt, path);
    if (!err.empty()) return {{}, std::move(err)};
  }
  return result;
}

profile_files_result parse_profile_files(const file_text& config, const file_text& credentials) {
  profile_files_result r;
  r.files.config_path = config.path;
  r.files.credentials_path = credentials.path;
  if (config.text) {
    auto ini = parse_ini(*config.text, config.path);
    if (!ini.error.empty()) return {{}, std::move(ini.error)};
    for (auto& s : ini.sections) {
      // botocore: "profile NAME" (any section starting with "profile" that shell-splits into two words),
      // and "default"; a later section for the same profile replaces the earlier one wholesale.
      if (s.name.starts_with("profile")) {
        auto words = shell_split(s.name);
        if (words && words->size() == 2) r.files.config[(*words)[1]] = s.settings;
      } else if (s.name == "default") {
        r.files.config["default"] = s.settings;
      }
    }
  }
  if (credentials.text) {
    auto ini = parse_ini(*credentials.text, credentials.path);
    if (!ini.error.empty()) return {{}, std::move(ini.error)};
    for (auto& s : ini.sections) r.files.credentials[s.name] = s.settings;
  }
  r.files.merged = r.files.config;
  for (const auto& [name, creds] : r.files.credentials) {
    auto& target = r.files.merged[name];
    for (const auto& [k, v] : creds.values) {
      target.subsections.erase(k);
      target.values[k] = v;
    }
    for (const auto& [k, v] : creds.subsections) {
      target.values.erase(k);
      target.subsections[k] = v;
    }
  }
  return r;
}

profile_files_result load_profile_files(const env_lookup& env) {
  auto path_of = [&](const char* var, const char* fallback) {
    const char* v = env(var);
    std::string p = v != nullptr && *v != '\0' ? v : fallback;
    if (p == "~" || p.starts_with("~/")) {
      const char* home = env("HOME");
      p = (home != nullptr ? home : "") + p.substr(1);
    }
    return p;
  };
  file_text config{path_of("AWS_CONFIG_FILE", "~/.aws/config"), {}};
  file_text creds{path_of("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), {}};
  std::string error;
  config.text = read_file(config.path, error);
  if (error.empty()) creds.text = read_file(creds.path, error);
  if (!error.empty()) return {{}, std::move(error)};
  return parse_profile_files(config, creds);
}

namespace {

bool has_static_keys(const profile_settings& p) {
  return p.has("aws_access_key_id") || p.has("aws_secret_access_key");
}

// botocore's AssumeRoleProvider takes a profile with role_arn, unless web identity claims it.
bool has_assume_role(const profile_settings& p) {
  return p.has("role_arn") && !p.has("web_identity_token_file");
}

std::string in_quotes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// Python's int() on a string: surrounding whitespace, a sign, digits with single underscores between them.
std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  bool negative = !s.empty() && s.front() == '-';
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (s.empty() || s.front() == '_' || s.back() == '_') return std::nullopt;
  std::int64_t v = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && s[i - 1] != '_') continue;
    if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return negative ? -v : v;
}

class resolver {
 public:
  explicit resolver(const profile_files& files, std::string top) : files_(files), visited_{std::move(top)} {}

  // botocore's profile providers with the environment left out, in their order: web identity, SSO, the
  // credentials file's keys, credential_process, the config file's keys. No error and no `out`: none applies.
  std::string chain(const std::string& name, std::optional<base_source>& out) {
    const auto& p = files_.merged.at(name);
    if (auto token_file = get(name, p, "web_identity_token_file"); token_file && !token_file->empty()) {
      auto role_arn = get(name, p, "role_arn");
      // The profile being resolved may take its role ARN from AWS_ROLE_ARN (botocore reads web identity
      // settings key by key, environment first): the chain's web identity step decides. A source profile
      // cannot.
      const bool top = visited_.size() == 1 && visited_.front() == name;
      if ((!role_arn || role_arn->empty()) && !top)
        return error_.empty() ? "profile " + in_quotes(name) + " has web_identity_token_file but no role_arn"
                              : error_;
      out = web_identity_source{role_arn.value_or(""), *token_file, get(name, p, "role_session_name")};
      return error_;
    }
    if (!error_.empty()) return error_;
    if (p.has("sso_account_id") || p.has("sso_role_name"))
      return "profile " + in_quotes(name) + " uses IAM Identity Center (sso_*), which is not supported";
    if (auto err = static_keys(name, files_.credentials, files_.credentials_path, out); !err.empty() || out)
      return err;
    if (p.has("credential_process")) {
      auto command = get(name, p, "credential_process");
      if (!command || command->empty())
        return error_.empty() ? "profile " + in_quotes(name) + ": credential_process is empty" : error_;
      out = process_source{*command};
      return {};
    }
    return static_keys(name, files_.config, files_.config_path, out);
  }

  // botocore's AssumeRoleProvider from `name` down to the base credentials; hops are appended top first.
  std::string assume_role(const std::string& name, credential_plan& plan) {
    const auto& p = files_.merged.at(name);
    auto role_arn = get(name, p, "role_arn");
    auto source_profile = get(name, p, "source_profile");
    auto credential_source = get(name, p, "credential_source");
    assume_role_hop hop{
        name, role_arn.value_or(""), get(name, p, "external_id"), get(name, p, "role_session_name"), {}};
    if (auto d = get(name, p, "duration_seconds")) hop.duration_seconds = parse_int(*d);
    if (!error_.empty()) return error_;
    auto in = "profile " + in_quotes(name);
    // Stricter than botocore, which would send an empty RoleArn to STS and fail there.
    if (hop.role_arn.empty()) return in + ": role_arn is empty";
    if (p.has("mfa_serial"))
      return in + ": mfa_serial is set, and prompting for an MFA code is not supported";
    if (source_profile && credential_source) return in + " has both source_profile and credential_source";
    if (!source_profile && !credential_source)
      return in + " has role_arn but neither source_profile nor credential_source";
    plan.hops.push_back(std::move(hop));

    if (credential_source) {
      static constexpr named_source all[] = {named_source::environment, named_source::ec2_instance_metadata,
                                             named_source::ecs_container};
      for (auto s : all)
        if (to_string(s) == *credential_source) {
          plan.base = s;
          plan.base_profile = name;
          return {};
        }
      return in + ": credential_source " + in_quotes(*credential_source) +
             " is not one of Environment, Ec2InstanceMetadata, EcsContainer";
    }
    const auto& source = *source_profile;
    auto it = files_.merged.find(source);
    if (it == files_.merged.end()) return in + ": source_profile " + in_quotes(source) + " does not exist";
    // A profile may name itself only to take its own static keys; any other revisit is a loop.
    if (std::find(visited_.begin(), visited_.end(), source) != visited_.end() &&
        (source != name || !has_static_keys(it->second))) {
      std::string cycle;
      for (const auto& v : visited_) cycle += v + " -> ";
      return "source_profile loop: " + cycle + source;
    }
    visited_.push_back(source);
    if (has_static_keys(it->second) || !has_assume_role(it->second)) {
      std::optional<base_source> base;
      if (auto err = chain(source, base); !err.empty()) return err;
      if (!base) return "source_profile " + in_quotes(source) + " (of " + in + ") has no credentials";
      plan.base = std::move(*base);
      plan.base_profile = source;
      return {};
    }
    return assume_role(source, plan);
  }

 private:
  // A value the plan uses; a sub-section where a value belongs is an error (kept in error_).
  std::optional<std::string> get(const std::string& name, const profile_settings& p, std::string_view key) {
    if (const auto* v = p.value(key)) return *v;
    if (p.has(key) && error_.empty())
      error_ =
          "profile " + in_quotes(name) + ": " + std::string(key) + " is an indented sub-section, not a value";
    return std::nullopt;
  }

  // botocore's SharedCredentialProvider / ConfigProvider: each reads its own file, not the merged profile;
  // aws_access_key_id claims the profile, and then the secret must be there too.
  std::string static_keys(const std::string& name, const profile_map& file, const std::string& path,
                          std::optional<base_source>& out) {
    auto it = file.find(name);
    if (it == file.end() || !it->second.has("aws_access_key_id")) return {};
    const auto& p = it->second;
    auto in = "profile " + in_quotes(name) + " in " + path;
    auto key = get(name, p, "aws_access_key_id");
    auto secret = get(name, p, "aws_secret_access_key");
    auto token =
        p.has("aws_security_token") ? get(name, p, "aws_security_token") : get(name, p, "aws_session_token");
    if (!error_.empty()) return error_;
    if (!secret) return in + " has aws_access_key_id but no aws_secret_access_key";
    // Stricter than botocore, which would sign with an empty key and be refused by AWS.
    if (key->empty() || secret->empty()) return in + ": empty aws_access_key_id or aws_secret_access_key";
    out = static_source{credentials{*key, *secret, token.value_or("")}, path};
    return {};
  }

  const profile_files& files_;
  std::vector<std::string> visited_;
  std::string error_;
};

}  // namespace

std::string_view to_string(named_source s) {
  switch (s) {
    case named_source::environment:
      return "Environment";
    case named_source::ec2_instance_metadata:
      return "Ec2InstanceMetadata";
    case named_source::ecs_container:
      return "EcsContainer";
  }
  return "?";
}

profile_resolution resolve_profile(std::string_view name, const profile_files& files, bool required) {
  auto it = files.merged.find(name);
  if (it == files.merged.end()) {
    auto where = " in " + files.config_path + " or " + files.credentials_path;
    if (required) return {std::nullopt, true, "profile " + in_quotes(name) + " not found" + where};
    return {std::nullopt, false, "no profile " + in_quotes(name) + where};
  }
  resolver r(files, std::string(name));
  credential_plan plan{std::string(name), {}, {}, {}, {}};
  if (const auto* region = it->second.value("region")) plan.region = *region;
  std::string err;
  if (has_assume_role(it->second)) {
    err = r.assume_role(plan.profile, plan);
  } else {
    std::optional<base_source> base;
    err = r.chain(plan.profile, base);
    if (err.empty() && !base)
      return {std::nullopt, false,
              "profile " + in_quotes(name) +
                  " has no credentials (no aws_access_key_id, role_arn, web_identity_token_file or "
                  "credential_process)"};
    if (base) plan.base = std::move(*base);
    plan.base_profile = plan.profile;
  }
  if (!err.empty()) return {std::nullopt, true, std::move(err)};
  std::reverse(plan.hops.begin(), plan.hops.end());
  return {std::move(plan), true, {}};
}

profile_resolution resolve_profile(const profile_files& files, const env_lookup& env) {
  const char* chosen = env("AWS_PROFILE");
  if (chosen != nullptr && *chosen != '\0') return resolve_profile(chosen, files, true);
  return resolve_profile("default", files, false);
}

}  // namespace sigv4::creds
