#pragma once
// `credential_process`: runs a command through /bin/sh -c and reads credentials from the JSON it prints
// ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}).
//
// The child runs in its own process group with stdin on /dev/null; its pipes are read asynchronously on the
// calling coroutine's executor, so a slow command never blocks the io_context. On timeout or oversized
// output the whole group is killed (a shell's children included). No secret ever appears in an error.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "creds/provider.hpp"

namespace sigv4::creds {

struct process_options {
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // from spawn to exit
  std::size_t max_output = 1024 * 1024;                         // stdout bytes; more is an error
  std::string profile;                                          // for messages only; may be empty
};

class process_provider final : public provider {
 public:
  explicit process_provider(std::string command, process_options options = {});

  std::string_view name() const override { return "process"; }
  boost::asio::awaitable<fetch_result> fetch() override;

 private:
  std::string what() const;  // "credential_process (profile dev)" for messages

  std::string command_;
  process_options options_;
};

// The JSON a credential process prints, checked as botocore checks it (Version must be 1; AccessKeyId and
// SecretAccessKey required). Pure, for tests. On failure returns nullopt and sets `error`, secret-free.
std::optional<snapshot> parse_process_output(std::string_view json, std::string& error);

// RFC 3339 date-time: 2026-11-27T12:00:00Z, with optional fractional seconds and a numeric offset.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339_timestamp(std::string_view s);

}  // namespace sigv4::creds
