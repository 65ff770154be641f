#pragma once
#include <boost/asio/ssl/context.hpp>
#include <string>

namespace sigv4::net {

struct tls_settings {
  std::string ca_file;  // empty: the system store (Debian: /etc/ssl/certs)
  bool verify = true;   // false only with --no-verify-ssl, which logs a warning at start
  std::string cert_file;  // client certificate (PEM), for targets that want mutual TLS; empty: none
  std::string key_file;   // its private key

  static tls_settings server_auth(std::string ca_file, bool verify) {
    tls_settings t;
    t.ca_file = std::move(ca_file);
    t.verify = verify;
    return t;
  }
};

// A client context: TLS 1.2+, peer verification against the system store or ca_file. Hostname checks and SNI
// are per connection (see upstream.cpp). Throws std::runtime_error naming the file on a bad ca_file.
boost::asio::ssl::context make_client_tls_context(const tls_settings& settings);

}  // namespace sigv4::net
