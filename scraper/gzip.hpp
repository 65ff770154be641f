#pragma once
// Gzip (Content-Encoding: gzip) pages, decompressed with zlib under a size limit: a page that inflates past
// body_size_limit fails its scrape instead of taking the process's memory. Pure.
#include <cstddef>
#include <string>
#include <string_view>

namespace sigv4::scraper {

// Inflates `in` into `out` (replaced). Returns "" on success, else why not ("body size limit exceeded", or
// zlib's reason). limit 0 = none.
std::string gunzip(std::string_view in, std::string& out, std::size_t limit);

}  // namespace sigv4::scraper
