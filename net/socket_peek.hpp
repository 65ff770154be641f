#pragma once
// What an idle connection's socket holds, without reading it or blocking: the pool's "is this still usable"
// check for plain and TLS upstream connections.
#include <sys/socket.h>

#include <cerrno>

namespace sigv4::net {

enum class peeked {
  nothing,  // no bytes waiting, connection open: the healthy state of an idle connection
  data,     // bytes waiting
  closed,   // EOF (the peer closed) or a socket error
};

inline peeked peek_socket(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return peeked::data;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return peeked::nothing;
  return peeked::closed;
}

}  // namespace sigv4::net
