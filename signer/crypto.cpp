#include "signer/detail/crypto.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace sigv4::detail {
namespace {

const EVP_MD* sha256_md() {
  // Explicit fetch once: EVP_sha256() would make every EVP_DigestInit_ex do an implicit fetch.
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) throw std::runtime_error("OpenSSL: SHA256 is not available");
    return m;
  }();
  return md;
}

EVP_MD_CTX* new_ctx() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::bad_alloc();
  if (EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("OpenSSL: EVP_DigestInit_ex2 failed");
  }
  return ctx;
}

// One reusable context per thread for the one-shot helpers.
EVP_MD_CTX* thread_ctx() {
  struct holder {
    EVP_MD_CTX* ctx = new_ctx();
    ~holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local holder h;
  return h.ctx;
}

void digest_parts(EVP_MD_CTX* ctx, std::initializer_list<std::span<const unsigned char>> parts, digest& out) {
  if (EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1) throw std::runtime_error("OpenSSL: digest init");
  for (auto p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) throw std::runtime_error("OpenSSL: digest final");
}

std::span<const unsigned char> bytes(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

}  // namespace

digest sha256(std::string_view data) {
  digest out;
  digest_parts(thread_ctx(), {bytes(data)}, out);
  return out;
}

// RFC 2104 over the EVP digest directly: EVP_MAC allocates and fetches per call, which costs more than the
// four SHA-256 blocks a SigV4 HMAC actually hashes.
digest hmac_sha256(std::span<const unsigned char> key, std::string_view message) {
  constexpr std::size_t block = 64;
  std::array<unsigned char, block> k{};
  if (key.size() > block) {
    digest kd;
    digest_parts(thread_ctx(), {key}, kd);
    std::memcpy(k.data(), kd.data(), kd.size());
  } else {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<unsigned char, block> pad;
  for (std::size_t i = 0; i < block; ++i) pad[i] = k[i] ^ 0x36;
  digest inner;
  digest_parts(thread_ctx(), {pad, bytes(message)}, inner);
  for (std::size_t i = 0; i < block; ++i) pad[i] = k[i] ^ 0x5c;
  digest out;
  digest_parts(thread_ctx(), {pad, inner}, out);
  return out;
}

sha256_stream::sha256_stream() : ctx_(new_ctx()) {}
sha256_stream::~sha256_stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
sha256_stream::sha256_stream(sha256_stream&& other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }
sha256_stream& sha256_stream::operator=(sha256_stream&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

void sha256_stream::update(const void* data, std::size_t size) {
  if (size != 0) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

digest sha256_stream::finish() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  digest out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) throw std::runtime_error("OpenSSL: digest final");
  if (EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1) throw std::runtime_error("OpenSSL: digest init");
  return out;
}

void append_hex(std::string& out, std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  for (unsigned char b : bytes) {
    out[at++] = digits[b >> 4];
    out[at++] = digits[b & 0xf];
  }
}

}  // namespace sigv4::detail
