#pragma once
// CRC32C (Castagnoli, the iSCSI/ext4/LevelDB checksum) for the disk spool. Debian 12 packages no
// CRC32C library with a static archive (google/crc32c is not in bookworm; ISA-L ships only a shared
// object), so it is here: the SSE4.2 crc32 instruction where the CPU has it (chosen once, at first use),
// else slicing-by-8 tables. Either way several GB/s, far above what the spool writes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sigv4::scraper {

// `crc` continues a previous value (0 to start), so a record can be summed in pieces.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n);
inline std::uint32_t crc32c(std::string_view s) {
  return crc32c(0, s.data(), s.size());
}
inline std::uint32_t crc32c(std::span<const std::byte> s) {
  return crc32c(0, s.data(), s.size());
}

// The table version, whatever the CPU has: tests compare the two.
std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t n);
bool crc32c_hardware();

}  // namespace sigv4::scraper
