#pragma once
// The spool's on-disk format (internal to spool.cpp; tests use it to damage files on purpose).
//
// A directory holds segment files named by a 20-digit sequence number, `00000000000000000007.seg`, each a
// 16-byte header followed by records back to back (all integers little-endian):
//
//   segment header  0 "S4SPOOL\n"  8 u32 version (1)  12 u32 crc32c of bytes 0..12
//   record header   0 u32 magic 0x713E9AC5   4 u32 payload length   8 i64 timestamp (ms)
//                  16 u32 crc32c of the payload   20 u8 type   21 u8 flags (0)   22 u16 reserved (0)
//                  24 u32 crc32c of header bytes 0..24
//   payload         `length` opaque bytes
//
// The header has its own checksum so that a length can be trusted before the payload is read: a record
// whose payload fails its checksum is skipped exactly, with the records after it intact. When a header
// itself fails, the scanner resynchronises on the next offset holding the magic *and* a header whose
// checksum holds *and* whose payload fits in the file (a chance match in payload bytes would need all
// three). Invalid bytes running to the end of a segment are a torn tail (a write cut short by a crash or
// a power cut) and are truncated at open; invalid bytes followed by a valid record are corruption,
// skipped and counted.
//
// Each reader's position is a file `<name>.pos` (name escaped) written atomically (temp, fdatasync,
// rename, fsync of the directory):
//   0 "S4POS\0\0\n"  8 u32 version (1)  12 u32 name length  16 u64 segment  24 u64 offset  32 name
//   32+len u32 crc32c of everything before it
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sigv4::scraper::spool::detail {

inline constexpr std::size_t segment_header_bytes = 16;
inline constexpr std::size_t record_header_bytes = 28;
inline constexpr std::uint32_t record_magic = 0x713E9AC5;
inline constexpr std::uint32_t format_version = 1;

std::string segment_file_name(std::uint64_t seq);
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);

// The file name of a reader's position: the name with bytes outside [A-Za-z0-9._-] as %XX, shortened
// with a checksum when long (the file holds the full name, which is what counts).
std::string position_file_name(std::string_view reader);
inline constexpr std::string_view position_suffix = ".pos";
inline constexpr std::string_view temp_suffix = ".tmp";

void encode_segment_header(std::byte* out);
bool segment_header_ok(const std::byte* in);

struct record_header {
  std::uint32_t length = 0;
  std::int64_t timestamp_ms = 0;
  std::uint32_t payload_crc = 0;
  std::uint8_t type = 0;
};
void encode_record_header(const record_header& h, std::byte* out);
// False when the magic, the header checksum or a reserved field is wrong.
bool decode_record_header(const std::byte* in, record_header& out);

struct position_file {
  std::string reader;
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
};
std::string encode_position_file(const position_file& p);
std::optional<position_file> decode_position_file(std::string_view bytes);

// A window over one segment file's first `size` bytes, read with pread.
class segment_source {
 public:
  segment_source(int fd, std::uint64_t size, std::size_t window) : fd_(fd), size_(size), window_(window) {}
  std::uint64_t size() const { return size_; }
  void set_size(std::uint64_t size) { size_ = size; }  // the active segment grows; what was read stays valid
  // `n` bytes at `off`, valid until the next call; nullptr when they pass size() (errno_ stays 0) or the
  // read failed (errno_ set).
  const std::byte* view(std::uint64_t off, std::size_t n);
  int error() const { return errno_; }

 private:
  int fd_;
  std::uint64_t size_;
  std::size_t window_;
  std::string buf_;
  std::uint64_t buf_off_ = 0;
  int errno_ = 0;
};

// What lies at an offset of a segment.
struct step {
  enum class kind : std::uint8_t {
    record,    // a valid record in [begin, end); payload points at it (valid until the source's next view)
    bad,       // invalid bytes in [begin, end): end is the next valid record, or the segment's size
    end,       // the offset is the end of the data
    io_error,  // the source's error() says why
  };
  kind k = kind::end;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  record_header header;
  const std::byte* payload = nullptr;
};
step next_step(segment_source& src, std::uint64_t off);

}  // namespace sigv4::scraper::spool::detail
