#include "scraper/gzip.hpp"

#include <zlib.h>

namespace sigv4::scraper {

std::string gunzip(std::string_view in, std::string& out, std::size_t limit) {
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "cannot start gzip decoding";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string problem;
  std::size_t chunk = in.size() * 4 + 4096;
  for (;;) {
    if (limit != 0 && out.size() >= limit + 1) {
      problem = "body size limit exceeded";
      break;
    }
    std::size_t old = out.size();
    std::size_t grow = chunk;
    if (limit != 0 && old + grow > limit + 1) grow = limit + 1 - old;
    out.resize(old + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(grow);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + grow - zs.avail_out);
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are one page (as Go's gzip.Reader reads them).
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) {
        problem = "gzip: cannot read the next member";
        break;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      problem = "gzip: unexpected end of data";
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      problem = std::string("gzip: ") + (zs.msg != nullptr ? zs.msg : "invalid data");
      break;
    }
  }
  inflateEnd(&zs);
  if (problem.empty() && limit != 0 && out.size() > limit) problem = "body size limit exceeded";
  return problem;
}

}  // namespace sigv4::scraper
