#include "net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <stdexcept>

namespace sigv4::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace tls_detail {

asio::mutable_buffer write_scratch() {
  thread_local char scratch[16384];
  return asio::buffer(scratch);
}

}  // namespace tls_detail

namespace {

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a connection the peer has reset, and the
// daemon does not ignore SIGPIPE. This BIO is the same minimal thing with send(MSG_NOSIGNAL): no buffering,
// EAGAIN becomes a retry (SSL_ERROR_WANT_READ/WRITE), EOF is reported through BIO_CTRL_EOF so that OpenSSL 3
// can tell an unexpected EOF from a socket error.
struct bio_state {
  int fd;
  bool* eof;
  int* last_errno;
};

bool retryable(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

int bio_write(BIO* b, const char* data, std::size_t len, std::size_t* written) {
  auto* st = static_cast<bio_state*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  ssize_t n = ::send(st->fd, data, len, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (retryable(errno)) {
    BIO_set_retry_write(b);
  } else {
    *st->last_errno = errno;
  }
  *written = 0;
  return 0;
}

int bio_read(BIO* b, char* data, std::size_t len, std::size_t* got) {
  auto* st = static_cast<bio_state*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  *got = 0;
  ssize_t n = ::recv(st->fd, data, len, 0);
  if (n > 0) {
    *got = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    *st->eof = true;
  } else if (retryable(errno)) {
    BIO_set_retry_read(b);
  } else {
    *st->last_errno = errno;
  }
  return 0;
}

long bio_ctrl(BIO* b, int cmd, long, void* ptr) {
  auto* st = static_cast<bio_state*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return st != nullptr && *st->eof ? 1 : 0;
    case BIO_C_GET_FD:
      if (st == nullptr) return -1;
      if (ptr != nullptr) *static_cast<int*>(ptr) = st->fd;
      return st->fd;
    default: return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 1);
  return 1;
}

int bio_destroy(BIO* b) {
  delete static_cast<bio_state*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  return 1;
}

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "sigv4 socket");
    if (m == nullptr || !BIO_meth_set_write_ex(m, bio_write) || !BIO_meth_set_read_ex(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
        !BIO_meth_set_destroy(m, bio_destroy)) {
      throw std::runtime_error("cannot create the OpenSSL socket BIO method");
    }
    return m;
  }();
  return method;
}

}  // namespace

tls_socket::impl::impl(socket_type s) : sock(std::move(s)), deadline(sock) {}

tls_socket::impl::~impl() {
  if (ssl != nullptr) SSL_free(ssl);  // frees the BIO (and its bio_state), never the socket
}

tls_socket::tls_socket(socket_type socket, asio::ssl::context& ctx)
    : impl_(std::make_shared<impl>(std::move(socket))) {
  auto& s = *impl_;
  s.deadline.bind(impl_);
  error_code ec;
  s.sock.non_blocking(true, ec);  // OpenSSL calls recv/send directly: they must never block
  if (ec) throw std::runtime_error("cannot make the upstream socket non-blocking: " + ec.message());
  s.ssl = SSL_new(ctx.native_handle());
  if (s.ssl == nullptr) throw std::runtime_error("SSL_new failed");
  BIO* bio = BIO_new(socket_bio_method());
  if (bio == nullptr) throw std::runtime_error("BIO_new failed");
  BIO_set_data(bio, new bio_state{s.sock.native_handle(), &s.eof, &s.last_errno});
  SSL_set_bio(s.ssl, bio, bio);  // the SSL owns the BIO (one reference for both directions)
  SSL_set_mode(s.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Read whole socket buffers (up to one record buffer) instead of a 5-byte header, then the record: half the
  // recv calls. What is read ahead stays in OpenSSL's record buffer; idle_ok() looks there too.
  SSL_set_read_ahead(s.ssl, 1);
  SSL_set_connect_state(s.ssl);
}

tls_socket::~tls_socket() {
  if (impl_) close();
}

bool tls_socket::set_peer_name(const std::string& name, bool is_ip, bool verify) {
  SSL* ssl = impl_->ssl;
  if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return false;
  if (!verify) return true;
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

void tls_socket::expires_at(clock::time_point t) { impl_->deadline.expires_at(t); }

// Leaves an armed timer alone (it fires once, finds no wait and no deadline, and is not re-armed): cancelling
// it here would cost a cancelled-handler round per pooled exchange.
void tls_socket::expires_never() { impl_->deadline.expires_never(); }

void tls_socket::close() {
  error_code ignored;
  impl_->deadline.cancel();
  impl_->sock.close(ignored);
}

tls_detail::step_result tls_socket::impl::step(tls_detail::op_kind kind, void* data, std::size_t size) {
  ERR_clear_error();
  last_errno = 0;
  std::size_t n = 0;
  int r = 0;
  switch (kind) {
    case tls_detail::op_kind::handshake: r = SSL_connect(ssl); break;
    case tls_detail::op_kind::read: r = SSL_read_ex(ssl, data, size, &n); break;
    case tls_detail::op_kind::write: r = SSL_write_ex(ssl, data, size, &n); break;
  }
  tls_detail::step_result out;
  if (r == 1) {
    out.bytes = n;
    return out;
  }
  switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
      out.done = false;
      out.wait = asio::socket_base::wait_read;
      return out;
    case SSL_ERROR_WANT_WRITE:
      out.done = false;
      out.wait = asio::socket_base::wait_write;
      return out;
    case SSL_ERROR_ZERO_RETURN:
      out.ec = asio::error::eof;  // close_notify
      return out;
    case SSL_ERROR_SYSCALL: {
      unsigned long e = ERR_get_error();
      if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS) {
        out.ec = error_code(ERR_GET_REASON(e), boost::system::system_category());
      } else if (e != 0) {
        out.ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
      } else if (last_errno != 0) {
        out.ec = error_code(last_errno, boost::system::system_category());
      } else {
        out.ec = asio::ssl::error::stream_truncated;  // EOF without close_notify (OpenSSL 1.1 style)
      }
      return out;
    }
    default: {
      unsigned long e = ERR_get_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        out.ec = asio::ssl::error::stream_truncated;
      } else if (e != 0) {
        out.ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
      } else {
        out.ec = asio::ssl::error::unexpected_result;  // no reason queued
      }
      return out;
    }
  }
}

bool tls_socket::idle_ok() {
  auto& s = *impl_;
  if (!s.sock.is_open()) return false;
  for (int records = 0;; ++records) {
    if (!SSL_has_pending(s.ssl)) {
      const peeked p = peek_socket(s.sock.native_handle());
      if (p != peeked::data) return p == peeked::nothing;
    }
    if (records == 8) return false;
    // Records are waiting. TLS 1.3 servers send session tickets after the handshake, and may send more (or a
    // KeyUpdate) at any time: SSL_read consumes those and reports WANT_READ when nothing else is there.
    // Anything else (application data, an alert, close_notify, EOF) makes the connection unfit.
    char c;
    tls_detail::step_result r = s.step(tls_detail::op_kind::read, &c, 1);
    if (r.done) return false;
    if (r.wait == asio::socket_base::wait_write) return true;  // a reply (KeyUpdate) goes out with the next write
  }
}

}  // namespace sigv4::net
