#include "scraper/spool_format.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "scraper/crc32c.hpp"

namespace sigv4::scraper::spool::detail {
namespace {

constexpr char segment_magic[8] = {'S', '4', 'S', 'P', 'O', 'O', 'L', '\n'};
constexpr char position_magic[8] = {'S', '4', 'P', 'O', 'S', '\0', '\0', '\n'};
constexpr std::string_view segment_suffix = ".seg";
constexpr std::size_t seq_digits = 20;  // UINT64_MAX has 20

void put32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
void put64(std::byte* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint32_t get32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}
std::uint64_t get64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

// The next offset after `off` where a valid record header starts whose payload fits, or nullopt.
std::optional<std::uint64_t> resync(segment_source& src, std::uint64_t off) {
  std::byte magic[4];
  put32(magic, record_magic);
  std::uint64_t q = off + 1;
  while (q + record_header_bytes <= src.size()) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(src.size() - q, 1 << 16));
    const std::byte* w = src.view(q, n);
    if (!w) return std::nullopt;
    const void* hit = ::memmem(w, n, magic, sizeof magic);
    if (!hit) {
      q += n - (sizeof magic - 1);  // a magic split across two windows is found in the next
      continue;
    }
    q += static_cast<std::uint64_t>(static_cast<const std::byte*>(hit) - w);
    const std::byte* h = src.view(q, record_header_bytes);
    if (!h) return std::nullopt;
    record_header rh;
    if (decode_record_header(h, rh) && q + record_header_bytes + rh.length <= src.size()) return q;
    ++q;
  }
  return std::nullopt;
}

}  // namespace

std::string segment_file_name(std::uint64_t seq) {
  char digits[seq_digits];
  auto [end, ec] = std::to_chars(digits, digits + seq_digits, seq);
  (void)ec;  // 20 digits always fit
  std::string out(seq_digits - static_cast<std::size_t>(end - digits), '0');
  out.append(digits, end);
  out.append(segment_suffix);
  return out;
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != seq_digits + segment_suffix.size() || !name.ends_with(segment_suffix))
    return std::nullopt;
  std::uint64_t seq = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + seq_digits, seq);
  if (ec != std::errc() || end != name.data() + seq_digits) return std::nullopt;
  return seq;
}

std::string position_file_name(std::string_view reader) {
  constexpr std::size_t max_escaped = 160;  // NAME_MAX is 255; room for the checksum and suffixes
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : reader) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_' ||
        (u == '.' && !out.empty())) {  // no leading dot: no hidden file, no "." or ".."
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  if (out.size() > max_escaped) {
    const std::uint32_t sum = crc32c(reader);
    out.resize(max_escaped);
    out += '~';
    for (int i = 7; i >= 0; --i) out += hex[(sum >> (4 * i)) & 15];
  }
  out.append(position_suffix);
  return out;
}

void encode_segment_header(std::byte* out) {
  std::memcpy(out, segment_magic, 8);
  put32(out + 8, format_version);
  put32(out + 12, crc32c(0, out, 12));
}

bool segment_header_ok(const std::byte* in) {
  return std::memcmp(in, segment_magic, 8) == 0 && get32(in + 8) == format_version &&
         get32(in + 12) == crc32c(0, in, 12);
}

void encode_record_header(const record_header& h, std::byte* out) {
  put32(out, record_magic);
  put32(out + 4, h.length);
  put64(out + 8, static_cast<std::uint64_t>(h.timestamp_ms));
  put32(out + 16, h.payload_crc);
  out[20] = static_cast<std::byte>(h.type);
  out[21] = std::byte{0};
  out[22] = std::byte{0};
  out[23] = std::byte{0};
  put32(out + 24, crc32c(0, out, 24));
}

bool decode_record_header(const std::byte* in, record_header& out) {
  if (get32(in) != record_magic || get32(in + 24) != crc32c(0, in, 24)) return false;
  if (in[21] != std::byte{0} || in[22] != std::byte{0} || in[23] != std::byte{0}) return false;
  out.length = get32(in + 4);
  out.timestamp_ms = static_cast<std::int64_t>(get64(in + 8));
  out.payload_crc = get32(in + 16);
  out.type = std::to_integer<std::uint8_t>(in[20]);
  return true;
}

std::string encode_position_file(const position_file& p) {
  std::string out(32 + p.reader.size() + 4, '\0');
  auto* b = reinterpret_cast<std::byte*>(out.data());
  std::memcpy(b, position_magic, 8);
  put32(b + 8, format_version);
  put32(b + 12, static_cast<std::uint32_t>(p.reader.size()));
  put64(b + 16, p.segment);
  put64(b + 24, p.offset);
  std::memcpy(b + 32, p.reader.data(), p.reader.size());
  put32(b + 32 + p.reader.size(), crc32c(0, b, 32 + p.reader.size()));
  return out;
}

std::optional<position_file> decode_position_file(std::string_view s) {
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  if (s.size() < 36 || std::memcmp(b, position_magic, 8) != 0 || get32(b + 8) != format_version)
    return std::nullopt;
  const std::uint32_t len = get32(b + 12);
  if (s.size() != 36 + std::size_t{len} || get32(b + 32 + len) != crc32c(0, b, 32 + len)) return std::nullopt;
  return position_file{std::string(s.substr(32, len)), get64(b + 16), get64(b + 24)};
}

const std::byte* segment_source::view(std::uint64_t off, std::size_t n) {
  errno_ = 0;
  if (off > size_ || n > size_ - off) return nullptr;
  if (off >= buf_off_ && off + n <= buf_off_ + buf_.size())
    return reinterpret_cast<const std::byte*>(buf_.data()) + (off - buf_off_);
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(std::max(n, window_), size_ - off));
  if (want <= window_ && buf_.capacity() > 2 * window_) buf_ = std::string();  // after one huge record
  buf_.resize(want);  // a std::string keeps its capacity: refills of the same window allocate nothing
  buf_off_ = off;
  std::size_t got = 0;
  while (got < want) {
    const ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      errno_ = r < 0 ? errno : EIO;  // 0: the file is shorter than the spool believed
      buf_.clear();
      return nullptr;
    }
    got += static_cast<std::size_t>(r);
  }
  return reinterpret_cast<const std::byte*>(buf_.data());
}

step next_step(segment_source& src, std::uint64_t off) {
  step s;
  s.begin = off;
  if (off >= src.size()) return s;  // kind::end
  const auto bad_until = [&](std::optional<std::uint64_t> next) {
    s.k = src.error() ? step::kind::io_error : step::kind::bad;
    s.end = next.value_or(src.size());
    return s;
  };
  const std::byte* h = src.view(off, record_header_bytes);
  if (!h) return src.error() ? (s.k = step::kind::io_error, s) : bad_until(std::nullopt);
  if (!decode_record_header(h, s.header) || s.header.length > src.size() - off - record_header_bytes)
    return bad_until(resync(src, off));
  s.end = off + record_header_bytes + s.header.length;
  const std::byte* p = src.view(off + record_header_bytes, s.header.length);
  if (!p) {
    s.k = step::kind::io_error;
    return s;
  }
  if (crc32c(0, p, s.header.length) != s.header.payload_crc) {
    s.k = step::kind::bad;
    return s;
  }
  s.k = step::kind::record;
  s.payload = p;
  return s;
}

}  // namespace sigv4::scraper::spool::detail
