// CRC-32C (Castagnoli, the checksum of iSCSI, ext4 metadata and RFC 3720), over a spool message's content: the
// record keeps it so that recovery after a crash can tell a file whose data never reached the disk whole.
// Computed with the SSE 4.2 crc32 instruction where the CPU has it (about 7 GB/s here), else eight bytes per
// step from tables.
#pragma once

#include <cstdint>
#include <string_view>

namespace smarthost::queue {

// The CRC of `bytes` continued from `crc` (0 for the start): crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c(uint32_t crc, std::string_view bytes);
// The same from tables alone, whatever the CPU (for tests of the path CPUs without SSE 4.2 take).
uint32_t crc32c_portable(uint32_t crc, std::string_view bytes);

}  // namespace smarthost::queue
