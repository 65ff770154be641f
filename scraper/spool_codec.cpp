#include "scraper/spool_codec.hpp"

#include <snappy.h>

#include <algorithm>
#include <bit>

#include "scraper/varint.hpp"

namespace sigv4::scraper {
namespace {

using detail::get_varint;
using detail::put_varint;

constexpr char version = 1;

void put_fixed64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

bool get_fixed64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  in.remove_prefix(8);
  return true;
}

}  // namespace

std::int64_t encode_spool_record(const sample_batch& batch, std::string& scratch, std::string& out) {
  scratch.clear();
  scratch.push_back(version);
  std::int64_t newest = INT64_MIN;
  for (const auto& e : batch.entries()) {
    const std::string_view flat = batch.flat_labels(e);
    put_varint(scratch, flat.size());
    scratch.append(flat);
    put_fixed64(scratch, e.hash);
    put_fixed64(scratch, static_cast<std::uint64_t>(e.t_ms));
    put_fixed64(scratch, std::bit_cast<std::uint64_t>(e.v));
    newest = std::max(newest, e.t_ms);
  }
  out.clear();
  snappy::Compress(scratch.data(), scratch.size(), &out);
  return newest;
}

bool decode_spool_record(std::string_view payload, std::string& scratch, sample_batch& out) {
  scratch.clear();
  if (!snappy::Uncompress(payload.data(), payload.size(), &scratch)) return false;
  std::string_view in = scratch;
  if (in.empty() || in.front() != version) return false;
  in.remove_prefix(1);
  const std::size_t before = out.size();
  while (!in.empty()) {
    std::uint64_t len = 0, hash = 0, t = 0, v = 0;
    if (!get_varint(in, len) || len > in.size()) break;
    const std::string_view flat = in.substr(0, static_cast<std::size_t>(len));
    in.remove_prefix(static_cast<std::size_t>(len));
    if (!get_fixed64(in, hash) || !get_fixed64(in, t) || !get_fixed64(in, v)) break;
    out.add_flat(flat, hash, static_cast<std::int64_t>(t), std::bit_cast<double>(v));
    if (in.empty()) return true;
  }
  if (in.empty() && out.size() == before) return true;  // an empty batch
  out.truncate(before);
  return false;
}

}  // namespace sigv4::scraper
