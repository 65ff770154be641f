// libFuzzer target over the AWS shared config and credentials files (creds/profile_file.hpp): the bytes up to
// the first NUL are the config file, the rest the credentials file (absent when there is no NUL). Both are
// parsed as the chain reads them (parse_profile_files), then every profile (at most 16) is resolved into a
// plan, required and not, and once more the way AWS_PROFILE picks one. Seeds stay readable text.
// Invariants: an error is "PATH:LINE: why" with a line inside that file, and leaves no profiles; parse_ini's
// keys are non-empty and lower-case, values trimmed; a resolution is a plan xor a reason; a plan's static
// keys are non-empty, each hop has a role ARN; a profile asked for by name that does not exist is an error.
// Resolution always terminates (source_profile loops), and nothing crashes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

#include "creds/profile_file.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace sigv4::creds;

using sigv4::fuzz::check;

// Python's universal newlines: \n, \r\n and a lone \r each end a line.
std::size_t line_count(std::string_view text) {
  std::size_t n = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) ++n;
  }
  return n;
}

void check_error(std::string_view error, std::string_view config, const std::optional<std::string>& creds) {
  const std::string whole(error);
  auto fail = [&](const char* what) {
    std::fprintf(stderr, "invariant violated: %s: %s\n", what, whole.c_str());
    __builtin_trap();
  };
  std::string_view text;
  if (error.starts_with("/fz/config:")) {
    text = config;
    error.remove_prefix(11);
  } else if (error.starts_with("/fz/credentials:") && creds) {
    text = *creds;
    error.remove_prefix(16);
  } else {
    fail("an error names its file");
  }
  std::size_t digits = 0, line = 0;
  while (digits < error.size() && error[digits] >= '0' && error[digits] <= '9' && digits < 9)
    line = line * 10 + static_cast<std::size_t>(error[digits++] - '0');
  if (digits == 0 || !error.substr(digits).starts_with(": ") || error.size() <= digits + 2)
    fail("an error is PATH:LINE: why");
  if (line < 1 || line > line_count(text)) fail("an error's line is inside its file");
}

void check_ini(std::string_view text) {
  auto r = parse_ini(text, "/fz/ini");
  if (!r.error.empty()) {
    check(r.sections.empty(), "an ini error leaves no sections");
    return;
  }
  auto trimmed = [](std::string_view v) {
    constexpr std::string_view ws = " \t\n\r\f\v";
    return v.empty() ||
           (ws.find(v.front()) == std::string_view::npos && ws.find(v.back()) == std::string_view::npos);
  };
  for (const auto& s : r.sections) {
    check(!s.name.empty(), "a section has a name");
    for (const auto& [k, v] : s.settings.values) {
      check(!k.empty(), "keys are non-empty");
      check(std::none_of(k.begin(), k.end(), [](char c) { return c >= 'A' && c <= 'Z'; }), "keys lower-case");
      check(trimmed(v), "values are trimmed");
      check(!s.settings.subsections.contains(k), "a key is a value or a sub-section, not both");
    }
  }
}

void check_resolution(const profile_resolution& r, std::string_view name, bool exists, bool required) {
  check(r.ok() == r.reason.empty(), "a plan xor a reason");
  if (!exists) check(!r.ok() && r.applies == required, "a missing profile applies only when required");
  if (!r.ok()) return;
  const auto& plan = *r.plan;
  check(plan.profile == name, "the plan is the profile's");
  check(!plan.base_profile.empty(), "the plan names its base profile");
  if (const auto* s = std::get_if<static_source>(&plan.base)) {
    check(!s->creds.access_key_id.empty() && !s->creds.secret_access_key.empty(),
          "static keys are non-empty");
    check(s->file == "/fz/config" || s->file == "/fz/credentials", "static keys name their file");
  } else if (const auto* p = std::get_if<process_source>(&plan.base)) {
    check(!p->command.empty(), "a credential_process is non-empty");
  } else if (const auto* w = std::get_if<web_identity_source>(&plan.base)) {
    check(!w->token_file.empty(), "a web identity has a token file");
  }
  for (const auto& hop : plan.hops) check(!hop.role_arn.empty(), "every hop has a role ARN");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nul = in.find('\0');
  const std::string_view config = in.substr(0, nul);
  std::optional<std::string> creds;
  if (nul != std::string_view::npos) creds = std::string(in.substr(nul + 1));

  check_ini(config);
  if (creds) check_ini(*creds);

  auto r = parse_profile_files({"/fz/config", std::string(config)}, {"/fz/credentials", creds});
  if (!r.error.empty()) {
    check_error(r.error, config, creds);
    check(r.files.merged.empty(), "an error leaves no profiles");
    return 0;
  }
  const auto& files = r.files;
  check(files.merged.size() >= std::max(files.config.size(), files.credentials.size()),
        "merged has them all");

  std::size_t resolved = 0;
  for (const auto& [name, _] : files.merged) {
    if (++resolved > 16) break;
    check_resolution(resolve_profile(name, files, true), name, true, true);
    check_resolution(resolve_profile(name, files, false), name, true, false);
  }
  for (std::string_view missing : {"", "no such profile \x01"}) {
    if (files.merged.contains(missing)) continue;
    check_resolution(resolve_profile(missing, files, true), missing, false, true);
    check_resolution(resolve_profile(missing, files, false), missing, false, false);
  }
  const env_lookup no_profile = [](const char*) -> const char* { return nullptr; };
  check_resolution(resolve_profile(files, no_profile), "default", files.merged.contains("default"), false);
  return 0;
}
