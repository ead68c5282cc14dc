/* exitprobe — hex, base64 (with and without padding), base32.
 * Decoders take a length (never rely on NUL), reject bad characters, and
 * return the number of bytes written or -1. */
#ifndef EP_LIB_ENCODE_H
#define EP_LIB_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Encoders write a NUL-terminated string; out must hold 2n+1 (hex),
 * EP_B64_LEN(n)+1, EP_B32_LEN(n)+1 bytes. Return chars written (no NUL) or -1. */
#define EP_B64_LEN(n) ((((n) + 2) / 3) * 4)
#define EP_B32_LEN(n) ((((n) * 8) + 4) / 5)

ssize_t ep_hex_encode(char *out, size_t outcap, const void *in, size_t n, bool upper);
/* Decodes exactly inlen hex chars (inlen even) into out; -1 on error. */
ssize_t ep_hex_decode(void *out, size_t outcap, const char *in, size_t inlen);

#define EP_B64_PAD     0x1u   /* encoder: add '=' padding */
#define EP_B64_NOPAD   0x0u
ssize_t ep_base64_encode(char *out, size_t outcap, const void *in, size_t n, unsigned flags);
/* Decoder accepts padded or unpadded input; skips ASCII whitespace (so PEM
 * object bodies decode directly); rejects other characters and bad tails. */
ssize_t ep_base64_decode(void *out, size_t outcap, const char *in, size_t inlen);
/* The same rules without the bytes: returns what ep_base64_decode would
 * return with an outcap-byte buffer (the decoded length, or -1 for bad
 * base64 or more than outcap bytes), writing nothing. For objects whose
 * content is not used but must still be valid. */
ssize_t ep_base64_check(const char *in, size_t inlen, size_t outcap);

/* RFC 4648 base32, lowercase output, no padding; decoder is case-insensitive. */
ssize_t ep_base32_encode(char *out, size_t outcap, const void *in, size_t n);
ssize_t ep_base32_decode(void *out, size_t outcap, const char *in, size_t inlen);

#endif
