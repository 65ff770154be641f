#pragma once
// How the scraper's requests (scrapes and remote-write POSTs) authenticate: basic_auth, authorization
// (credentials or credentials_file, re-read on every request as Prometheus does), or SigV4 with the shared
// signer and the identity's published credentials. A request whose credentials are missing is never sent.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "creds/store.hpp"
#include "signer/signer.hpp"

namespace sigv4::scraper {

struct request_auth {
  std::string basic_user, basic_password, basic_password_file;
  std::string authz_type, authz_credentials, authz_credentials_file;
  bool sigv4 = false;
  std::string region, service;
  const creds::credential_store* store = nullptr;  // sigv4 only; outlives the request
};

using header_list = std::vector<std::pair<std::string, std::string>>;

struct authorize_result {
  std::string error;               // non-empty: do not send; why
  bool sigv4_unavailable = false;  // the error is "no credentials yet"
  bool sigv4_expired = false;      // ... because those published are expired by this host's clock
};

// Adds the auth headers to `headers` (which must already hold Host and every header to be signed). With
// SigV4 it signs method, target, headers and payload_hash at `now`.
authorize_result authorize(const request_auth& auth, std::string_view method, std::string_view target,
                           std::string_view payload_hash, header_list& headers, const signer& s,
                           std::chrono::sys_seconds now);

}  // namespace sigv4::scraper
