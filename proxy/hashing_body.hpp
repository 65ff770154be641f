#pragma once
// A Beast body that keeps the request body in one string and feeds each piece to the SHA-256 of the payload
// as it arrives: the payload hash is ready when the last byte is read, and the body is never copied again.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <string>

#include "signer/payload_hash.hpp"

namespace sigv4::app {

struct hashing_body {
  struct value_type {
    std::string data;
    payload_hasher* hasher = nullptr;  // null: the payload is not hashed (UNSIGNED-PAYLOAD)
  };

  static std::uint64_t size(const value_type& v) { return v.data.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
      // The parser has already checked length against body_limit.
      if (length) body_.data.reserve(static_cast<std::size_t>(*length));
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      std::size_t n = 0;
      for (auto b : boost::beast::buffers_range_ref(buffers)) {
        const char* p = static_cast<const char*>(b.data());
        body_.data.append(p, b.size());
        if (body_.hasher != nullptr) body_.hasher->update(p, b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (done_ || body_.data.empty()) return boost::none;
      done_ = true;
      return std::make_pair(const_buffers_type(body_.data.data(), body_.data.size()), false);
    }

   private:
    const value_type& body_;
    bool done_ = false;
  };
};

}  // namespace sigv4::app
