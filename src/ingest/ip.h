/*
 * ip.h - IP address anonymisation.
 *
 * IPv4 keeps the first three octets (203.0.113.7 -> 203.0.113.0); IPv6 keeps
 * the first 48 bits (the routing prefix: 2001:db8:85a3::), which is the usual
 * practice of analytics tools that anonymise. IPv4-mapped IPv6 addresses are
 * treated as IPv4.
 */
#ifndef JOURNEY_INGEST_IP_H
#define JOURNEY_INGEST_IP_H

#include <stddef.h>

#define IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Writes the anonymised form of the address text s (n bytes) into out.
 * Returns 0, or -1 if s is not an IP address. */
int ip_anonymize(const char *s, size_t n, char out[IP_TEXT_MAX]);
/* Normalises s into out without anonymising (checks it is an address). */
int ip_normalize(const char *s, size_t n, char out[IP_TEXT_MAX]);

#endif
