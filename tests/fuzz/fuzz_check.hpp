#pragma once
// The invariant check every libFuzzer target here uses: a violated invariant is a crash libFuzzer keeps the
// input of, with what was violated on stderr.
#include <cstdio>

namespace sigv4::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    __builtin_trap();
  }
}

}  // namespace sigv4::fuzz
