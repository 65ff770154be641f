#pragma once
// The invariant check every libFuzzer target here uses: a violated invariant is a crash libFuzzer keeps the
// input of, with what was violated on stderr.
#include <cstdio>
#include <exception>

namespace sigv4::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    __builtin_trap();
  }
}

// Runs f(): an exception escaping it is a crash too, reported as "`what` threw ...".
template <class F>
void must_not_throw(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s threw: %s\n", what, e.what());
    __builtin_trap();
  } catch (...) {
    std::fprintf(stderr, "%s threw a non-std exception\n", what);
    __builtin_trap();
  }
}

}  // namespace sigv4::fuzz
