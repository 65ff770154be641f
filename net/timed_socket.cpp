#include "net/timed_socket.hpp"

namespace sigv4::net {

timed_socket::timed_socket(socket_type socket) : impl_(std::make_shared<impl>(std::move(socket))) {
  std::weak_ptr<impl> owner = impl_;
  impl* raw = impl_.get();
  impl_->deadline.bind(owner, [raw] {
    boost::system::error_code ignored;
    raw->sock.cancel(ignored);
  });
}

timed_socket::~timed_socket() {
  if (impl_) impl_->deadline.cancel();
}

void timed_socket::close() {
  impl_->deadline.cancel();
  boost::system::error_code ignored;
  impl_->sock.close(ignored);
}

}  // namespace sigv4::net
