/*
 * random.h - identifiers from the kernel's CSPRNG (getrandom).
 */
#ifndef JOURNEY_COMMON_RANDOM_H
#define JOURNEY_COMMON_RANDOM_H

#include <stddef.h>
#include <stdint.h>

void random_bytes(void *out, size_t n);
uint64_t random_u64(void);
/* A UUID v4 string, 36 chars + NUL. */
void random_uuid(char out[37]);
/* n random characters from [0-9A-Za-z] + NUL (out has n+1 bytes). */
void random_base62(char *out, size_t n);
/* 2n random lowercase hex characters + NUL. */
void random_hex(char *out, size_t n_bytes);

#endif
