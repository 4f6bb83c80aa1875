#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has the SSE4.2 crc32 instruction (checked once), else 0.
int ccrc32c_hardware_available(void);

/// Continues a raw (not inverted) CRC32C register over `length` bytes with the SSE4.2 crc32
/// instruction. Only call when ccrc32c_hardware_available() returned 1.
uint32_t ccrc32c_update_hw(uint32_t crc, const void *bytes, size_t length);

/// 1 when the CPU has PCLMULQDQ and SSE4.1 (checked once), else 0.
int ccrc32_pclmul_available(void);

/// Continues a raw (inverted, as zlib keeps it internally) CRC32/IEEE register over the first
/// `length & ~15` bytes, folding with PCLMULQDQ. `length` must be at least 64; the caller handles
/// the last `length % 16` bytes. Only call when ccrc32_pclmul_available() returned 1.
uint32_t ccrc32_update_pclmul(uint32_t crc, const void *bytes, size_t length);

#endif
