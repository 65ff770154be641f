#include "net/timed_socket.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sigv4::net {

timed_socket::timed_socket(socket_type socket) : impl_(std::make_shared<impl>(std::move(socket))) {
  impl_->deadline.bind(impl_);
}

void timed_socket::close() {
  impl_->deadline.cancel();
  boost::system::error_code ignored;
  impl_->sock.close(ignored);
}

boost::asio::awaitable<std::size_t> lingering_close(timed_socket& s, std::chrono::milliseconds total) {
  boost::system::error_code ec;
  s.socket().shutdown(timed_socket::socket_type::shutdown_send, ec);
  std::size_t discarded = 0;
  if (!ec && total.count() > 0) {
    s.expires_after(total);
    std::array<char, 16384> sink;
    while (discarded < lingering_close_max_bytes) {
      auto [rec, n] = co_await s.async_read_some(boost::asio::buffer(sink),
                                                 boost::asio::as_tuple(boost::asio::use_awaitable));
      discarded += n;
      if (rec) break;  // the peer's FIN (eof), a reset, or the deadline
    }
  }
  s.close();
  co_return discarded;
}

}  // namespace sigv4::net
