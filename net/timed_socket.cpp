#include "net/timed_socket.hpp"

namespace sigv4::net {

timed_socket::timed_socket(socket_type socket) : impl_(std::make_shared<impl>(std::move(socket))) {
  impl_->deadline.bind(impl_);
}

void timed_socket::close() {
  impl_->deadline.cancel();
  boost::system::error_code ignored;
  impl_->sock.close(ignored);
}

}  // namespace sigv4::net
