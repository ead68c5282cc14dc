/* exitprobe — the one IP address type and its text form.
 *
 * ep_ipaddr_t is an IPv4 or IPv6 address as it travels in cells and
 * documents: a family and the address bytes in network order. Relays'
 * IPv4 addresses are also kept as a host-order uint32_t (0x7f000001 is
 * 127.0.0.1); ep_ipv4_format writes those.
 *
 * The formatters are the only place that turns an address into text: no
 * inet_ntop, no hand-rolled "%u.%u.%u.%u". IPv6 is written as RFC 5952 says
 * and exactly as glibc's inet_ntop writes it (lower case, no leading zeros,
 * the longest run of two or more zero groups, the first on a tie, as "::",
 * and ::ffff:a.b.c.d / ::a.b.c.d for IPv4-mapped / -compatible addresses).
 *
 *   char ip[EP_IPV4_STRLEN];
 *   printf("%s:%u", ep_ipv4_format(ip, relay->ipv4), port);
 *   char any[EP_IPADDR_STRLEN];
 *   ep_ipaddr_format(any, sizeof any, &addr);     // "2001:db8::1", "-" if none
 *
 * Pure functions: no allocation, no I/O, nothing to free. */
#ifndef EP_LIB_ADDR_H
#define EP_LIB_ADDR_H

#include <stddef.h>
#include <stdint.h>

typedef enum ep_ipaddr_family {
  EP_IPADDR_NONE = 0,
  EP_IPADDR_V4 = 4,
  EP_IPADDR_V6 = 6
} ep_ipaddr_family_t;

/* An IP address (network byte order). */
typedef struct ep_ipaddr {
  uint8_t family;      /* an ep_ipaddr_family_t */
  uint8_t bytes[16];   /* 4 (IPv4) or 16 (IPv6) significant bytes */
} ep_ipaddr_t;

/* "255.255.255.255" + NUL. */
#define EP_IPV4_STRLEN 16
/* Longest IPv6 text ("ffff:...:ffff" or "::ffff:255.255.255.255") + NUL:
 * the same as INET6_ADDRSTRLEN. */
#define EP_IPADDR_STRLEN 46

/* "a.b.c.d" of a host-order IPv4 address into out (EP_IPV4_STRLEN bytes);
 * returns out. */
const char *ep_ipv4_format(char out[EP_IPV4_STRLEN], uint32_t ipv4);

/* An address as text ("1.2.3.4", "2001:db8::1", "-" for family NONE or an
 * unknown family) into buf; cut short (always NUL-terminated) if cap is
 * below EP_IPADDR_STRLEN and the text is longer; returns buf. cap > 0. */
const char *ep_ipaddr_format(char *buf, size_t cap, const ep_ipaddr_t *addr);

/* An IPv4 address from a host-order uint32_t. */
void ep_ipaddr_set_ipv4(ep_ipaddr_t *a, uint32_t ipv4);
/* An IPv6 address from its 16 bytes. */
void ep_ipaddr_set_ipv6(ep_ipaddr_t *a, const uint8_t bytes[16]);

#endif
