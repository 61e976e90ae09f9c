/*
 * arena.h - a bump allocator for memory that lives exactly as long as one
 * unit of work (an HTTP request, a batch). Everything allocated from an arena
 * is released at once by arena_free(); nothing is freed individually.
 *
 * Blocks are chained; a request bigger than the block size gets a block of
 * its own. Allocations are 16-byte aligned.
 */
#ifndef JOURNEY_COMMON_ARENA_H
#define JOURNEY_COMMON_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;
    size_t block_size;
    size_t total; /* bytes handed out, for metrics and tests */
};

void arena_init(struct arena *a, size_t block_size);
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Releases every block. The arena may be reused after arena_init(). NULL-safe. */
void arena_free(struct arena *a);

#endif
