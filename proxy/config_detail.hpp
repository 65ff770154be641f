#pragma once
// Internals shared by the config sources (config.cpp reads YAML, config_flags.cpp reads the command line,
// config_values.cpp holds the value syntaxes). Not part of the public interface.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/yaml_reader.hpp"
#include "proxy/config.hpp"

namespace sigv4::app::detail {

using conf::assign;
using conf::closest_word;
using conf::lower;
using conf::quote;
using conf::strip_port;
using conf::yaml_reader;

// A file read without the whole-config checks, so that command-line flags can still complete it (a --host
// route makes a file with no routes runnable).
struct parsed_document {
  config cfg;  // always filled as far as the text allowed, even when errors is not empty
  std::vector<config_error> errors;
  bool structured = false;  // the text was a YAML mapping (or empty); if not, nothing else is worth checking
  std::vector<config_error> warnings;
};
parsed_document parse_document(std::string_view yaml_text, const env_lookup& env);
std::optional<std::string> read_text_file(const std::string& path, std::string* error);

// Checks that need the whole config (file and flags merged): an upstream exists (routes, a forward-proxy
// allowlist, or scrape jobs: the sidecar may run as a scraper alone), names are unique, the admin listener
// does not collide with the proxy listener.
void check_whole(const config& cfg, std::vector<config_error>& errors);

// RFC 9110 token: the header-name grammar.
bool valid_header_name(std::string_view name);
bool valid_header_value(std::string_view value);
// Letters, digits, '-', '.', '_': what a DNS name or IPv4 address may hold; IPv6 needs brackets.
bool valid_host(std::string_view host);
// "host" or "host:port"; for sign_host and --host, whose port is part of the signed Host header.
bool valid_host_and_port(std::string_view s);
// connect_to: "host:port" with the port required; returns the problem, or nullopt when fine.
std::optional<std::string> connect_to_problem(std::string_view s);
// "host:port", "[v6]:port" or ":port" (= 127.0.0.1:port), returned as "host:port". Port 0 (any free port)
// is allowed because tests bind that way.
std::optional<std::string> normalize_listen(std::string_view s, std::string* error);
bool valid_log_level(std::string_view s);
bool valid_log_format(std::string_view s);
// Allowlist entry syntax: "host" or "*.suffix"; returns the problem, or nullopt when fine.
std::optional<std::string> allow_entry_problem(std::string_view entry);
// A route-level check for the add-headers list: some headers belong to the signer or to HTTP framing.
std::optional<std::string> added_header_problem(std::string_view lower_name);

// Route reading lives in its own file; it needs the reader and reports route-level errors through it.
void read_routes(yaml_reader& r, const YAML::Node& node, int line, std::vector<route_config>& out);

}  // namespace sigv4::app::detail
