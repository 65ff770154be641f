#pragma once
#include <chrono>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "signer/types.hpp"

namespace sigv4::app {

struct sign_io {
  std::ostream& out;
  std::ostream& err;
  // Where credentials come from (the default chain); on failure nullopt with the reason in `why`.
  std::function<std::optional<credentials>(std::string& why)> get_credentials;
  std::function<std::chrono::sys_seconds()> now;
};

// `sigv4-sidecar sign [flags] URL`: exit 0 on success, 2 on a usage or input error.
int run_sign(std::span<const std::string_view> args, const sign_io& io);

}  // namespace sigv4::app
