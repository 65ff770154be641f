#include "creds/store.hpp"

namespace sigv4::creds {

std::string access_key_suffix(const credentials& c) {
  const auto& id = c.access_key_id;
  return id.size() > 4 ? id.substr(id.size() - 4) : id;
}

std::string credential_store::unavailable_reason() const {
  auto r = reason_.load();
  return r ? *r : std::string("no AWS credentials have been loaded");
}

void credential_store::set_unavailable_reason(std::string reason) {
  reason_.store(std::make_shared<const std::string>(std::move(reason)));
}

}  // namespace sigv4::creds
