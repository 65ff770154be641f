#pragma once
// The published credentials. Writers (the environment loader now, the refresher later) replace the snapshot
// whole; the hot path takes a shared_ptr copy and never waits on I/O or a lock held across I/O.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "signer/types.hpp"

namespace sigv4::creds {

struct snapshot {
  credentials creds;
  std::string provider;  // "environment", ...
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// The access key id's last 4 characters: enough to tell keys apart in logs and `doctor`, never a secret.
std::string access_key_suffix(const credentials& c);

class credential_store {
 public:
  std::shared_ptr<const snapshot> current() const { return snapshot_.load(std::memory_order_acquire); }
  void publish(std::shared_ptr<const snapshot> s) { snapshot_.store(std::move(s), std::memory_order_release); }
  // Why no credentials are available, for 503 bodies and /-/ready.
  std::string unavailable_reason() const;
  void set_unavailable_reason(std::string reason);

 private:
  std::atomic<std::shared_ptr<const snapshot>> snapshot_;
  std::atomic<std::shared_ptr<const std::string>> reason_;
};

}  // namespace sigv4::creds
