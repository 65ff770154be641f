#pragma once
// The AWS shared config and credentials files (~/.aws/config, ~/.aws/credentials), read the way botocore
// reads them (Python's RawConfigParser plus botocore's profile mapping), and the resolution of one profile
// into a plan: data saying where the base credentials come from and which roles to assume on top, in
// botocore's precedence. Turning a plan into providers is the chain's job; nothing here touches the network.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "creds/environment.hpp"
#include "signer/types.hpp"

namespace sigv4::creds {

// One section's settings. Keys are lower-cased (Python's optionxform), values trimmed. An indented block
// under an empty value (`s3 =` then `  key = value` lines) is a sub-section; it is kept apart so that a
// credential key can never silently be one.
struct profile_settings {
  std::map<std::string, std::string, std::less<>> values;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> subsections;

  bool has(std::string_view key) const { return values.contains(key) || subsections.contains(key); }
  const std::string* value(std::string_view key) const;  // nullptr when absent or a sub-section
};

using profile_map = std::map<std::string, profile_settings, std::less<>>;

struct ini_section {
  std::string name;  // verbatim, case-sensitive
  profile_settings settings;
};

struct ini_parse_result {
  std::vector<ini_section> sections;  // in file order; [DEFAULT]'s keys already copied into each section
  std::string error;                  // "PATH:LINE: why"; empty on success
};

// Python's RawConfigParser (strict, `=` and `:` delimiters, `#`/`;` full-line comments only, indented
// continuation lines) followed by botocore's sub-section parsing. A duplicate section or key is an error.
ini_parse_result parse_ini(std::string_view text, std::string_view path);

// The text of one file, or nullopt when the file does not exist (which is not an error).
struct file_text {
  std::string path;
  std::optional<std::string> text;
};

struct profile_files {
  std::string config_path;       // as named by AWS_CONFIG_FILE or the default, for messages
  std::string credentials_path;  // as named by AWS_SHARED_CREDENTIALS_FILE or the default
  profile_map config;            // [default] and [profile NAME] sections of the config file, by profile name
  profile_map credentials;       // every section of the credentials file, by its verbatim name
  profile_map merged;  // config, then each credentials section's keys on top (botocore's full_config)
};

struct profile_files_result {
  profile_files files;
  std::string error;  // names the file and line; empty on success
};

profile_files_result parse_profile_files(const file_text& config, const file_text& credentials);

// Reads AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE (default $HOME/.aws/config and
// $HOME/.aws/credentials; a leading `~` is expanded). Absent files are not errors; unreadable ones are.
profile_files_result load_profile_files(const env_lookup& env);

// --- The plan ------------------------------------------------------------------------------------------

// Static keys from one profile section.
struct static_source {
  credentials creds;
  std::string file;  // the file the keys came from, for logs (never log the keys)
};

// `credential_process`, run through /bin/sh -c.
struct process_source {
  std::string command;
};

// `role_arn` + `web_identity_token_file`: AssumeRoleWithWebIdentity, the token file re-read on each fetch.
// role_arn may be empty for the profile being resolved (not a source profile): AWS_ROLE_ARN may supply it.
struct web_identity_source {
  std::string role_arn;
  std::string token_file;
  std::optional<std::string> role_session_name;
};

// `credential_source`: another provider of the default chain supplies the base credentials.
enum class named_source { environment, ec2_instance_metadata, ecs_container };

using base_source = std::variant<static_source, process_source, web_identity_source, named_source>;

// One STS AssumeRole, signed with the credentials of the step before it.
struct assume_role_hop {
  std::string profile;  // where the role is configured
  std::string role_arn;
  std::optional<std::string> external_id;
  std::optional<std::string> role_session_name;
  std::optional<std::int64_t> duration_seconds;  // unparsable values are dropped, as botocore drops them
};

struct credential_plan {
  std::string profile;       // the profile that was resolved
  std::string base_profile;  // the profile whose settings gave `base`
  base_source base;
  std::vector<assume_role_hop>
      hops;  // hops[0] is assumed with the base credentials, hops[i] with hops[i-1]'s
  std::optional<std::string> region;  // the resolved profile's `region`; the STS calls use it
};

struct profile_resolution {
  std::optional<credential_plan> plan;  // set when the profile yields credentials
  bool applies = true;  // false: no such profile, or it has no credentials; `reason` says which
  std::string reason;   // why it does not apply, or why it is an error

  bool ok() const { return plan.has_value(); }
};

// `required`: the profile was asked for by name (AWS_PROFILE, a `profile:` in the config), so its absence is
// an error; otherwise ("default" by default) an absent profile just does not apply.
profile_resolution resolve_profile(std::string_view name, const profile_files& files, bool required);

// The profile named by AWS_PROFILE (required), else "default" (optional). An empty AWS_PROFILE counts as
// unset, as in the Go and Java SDKs (botocore instead fails looking for a profile named "").
profile_resolution resolve_profile(const profile_files& files, const env_lookup& env);

std::string_view to_string(named_source s);

}  // namespace sigv4::creds
