#include "net/tls.hpp"

#include <stdexcept>

namespace sigv4::net {

boost::asio::ssl::context make_client_tls_context(const tls_settings& settings) {
  namespace ssl = boost::asio::ssl;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  // Idle pooled connections give their ~34 KiB of OpenSSL record buffers back.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  boost::system::error_code ec;
  if (!settings.cert_file.empty()) {
    ctx.use_certificate_chain_file(settings.cert_file, ec);
    if (ec) throw std::runtime_error("cannot load cert_file " + settings.cert_file + ": " + ec.message());
    ctx.use_private_key_file(settings.key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load key_file " + settings.key_file + ": " + ec.message());
  }
  if (!settings.verify) {
    ctx.set_verify_mode(ssl::verify_none);
    return ctx;
  }
  if (settings.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system CA store: " + ec.message());
  } else {
    ctx.load_verify_file(settings.ca_file, ec);
    if (ec) throw std::runtime_error("cannot load ca_file " + settings.ca_file + ": " + ec.message());
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

}  // namespace sigv4::net
