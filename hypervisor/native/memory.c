/* Sparse simulated physical memory: a three-level radix tree over the 36-bit page-frame number
 * (12 bits per level), so the whole 48-bit physical address space is representable while only
 * touched pages cost memory. KCore's layout spans ~550 MB at 2^40 by default; RAM sits low. */
#include <stdlib.h>
#include <string.h>

#include "core/platform.h"
#include "native/native.h"

#define PAGE_SIZE 4096u
#define FANOUT 4096u
#define PA_LIMIT (1ull << 48)

struct leaf {
  unsigned char* page[FANOUT]; /* covers 16 MiB */
};
struct mid {
  struct leaf* leaf[FANOUT]; /* covers 64 GiB */
};

static struct mid* top[FANOUT];

/* Pages in use, with their frame numbers, so that a reset touches only those. A reset keeps the
 * pages it releases, zeroed, for reuse: handing them back to libc made every boot fault them in
 * from the kernel again (a reset and boot cost 7 ms instead of tens of microseconds). */
struct used {
  uint64_t pfn;
  unsigned char* page;
};
static struct used* used;
static size_t n_used, cap_used;
static unsigned char** spare;
static size_t n_spare, cap_spare;

static void* xcalloc(size_t size) {
  void* p = calloc(1, size);
  if (!p) abort(); /* the host is out of memory: no verdict about KCore is possible */
  return p;
}

/* Grows *arr (*cap elements of `size` bytes) to hold at least `need` elements. */
static void reserve(void** arr, size_t* cap, size_t need, size_t size) {
  if (need <= *cap) return;
  size_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  void* p = realloc(*arr, n * size);
  if (!p) abort();
  *arr = p;
  *cap = n;
}

/* The slot holding frame pfn's page pointer; NULL if its tables do not exist and !create. */
static unsigned char** slot_of(uint64_t pfn, int create) {
  struct mid** m = &top[(pfn >> 24) & (FANOUT - 1)];
  if (!*m) {
    if (!create) return NULL;
    *m = xcalloc(sizeof(struct mid));
  }
  struct leaf** l = &(*m)->leaf[(pfn >> 12) & (FANOUT - 1)];
  if (!*l) {
    if (!create) return NULL;
    *l = xcalloc(sizeof(struct leaf));
  }
  return &(*l)->page[pfn & (FANOUT - 1)];
}

/* The page holding pa, or NULL when it was never touched and `create` is 0. */
static unsigned char* page_of(uint64_t pa, int create) {
  const uint64_t pfn = pa >> 12;
  unsigned char** slot = slot_of(pfn, create);
  if (!slot) return NULL;
  if (!*slot && create) {
    unsigned char* p = n_spare ? spare[--n_spare] : xcalloc(PAGE_SIZE);
    reserve((void**)&used, &cap_used, n_used + 1, sizeof *used);
    used[n_used].pfn = pfn;
    used[n_used].page = p;
    ++n_used;
    *slot = p;
  }
  return *slot;
}

/* Frames reached since kn_mem_clear_touched, for incremental exports. A one-entry cache of the
 * last frame keeps both the lookup and the record cheap: the core touches the same page many
 * times in a row. */
static uint64_t* touched;
static size_t n_touched, cap_touched;
static uint64_t last_pfn = UINT64_MAX;
static unsigned char* last_page;

static void record_touch(uint64_t pfn) {
  reserve((void**)&touched, &cap_touched, n_touched + 1, sizeof *touched);
  touched[n_touched++] = pfn;
}

void* plat_phys(uint64_t pa) {
  if (pa >= PA_LIMIT) plat_panic("physical address beyond 2^48");
  const uint64_t pfn = pa >> 12;
  if (pfn != last_pfn) {
    last_page = page_of(pa, 1);
    last_pfn = pfn;
    record_touch(pfn);
  }
  return last_page + (pa & (PAGE_SIZE - 1));
}

const uint64_t* kn_mem_touched(size_t* n) {
  *n = n_touched;
  return touched;
}
void kn_mem_clear_touched(void) {
  n_touched = 0;
  last_pfn = UINT64_MAX; /* the next access to the cached page is recorded again */
}

void kn_mem_reset(void) {
  reserve((void**)&spare, &cap_spare, n_spare + n_used, sizeof *spare);
  for (size_t i = 0; i < n_used; ++i) {
    *slot_of(used[i].pfn, 0) = NULL;
    memset(used[i].page, 0, PAGE_SIZE);
    spare[n_spare++] = used[i].page;
  }
  n_used = 0;
  kn_mem_clear_touched();
}

void kn_mem_release(void) {
  kn_mem_reset();
  for (size_t i = 0; i < n_spare; ++i) free(spare[i]);
  for (size_t m = 0; m < FANOUT; ++m) {
    if (!top[m]) continue;
    for (size_t l = 0; l < FANOUT; ++l) free(top[m]->leaf[l]);
    free(top[m]);
    top[m] = NULL;
  }
  free(spare);
  free(used);
  free(touched);
  spare = NULL;
  used = NULL;
  touched = NULL;
  n_spare = cap_spare = cap_used = cap_touched = 0;
}

uint64_t kn_mem_pages(void) { return n_used; }

uint64_t kn_mem_peek64(uint64_t pa) {
  if (pa >= PA_LIMIT || pa % 8 != 0) return 0;
  const unsigned char* p = page_of(pa, 0);
  if (!p) return 0;
  uint64_t v;
  memcpy(&v, p + (pa & (PAGE_SIZE - 1)), sizeof v);
  return v;
}

void kn_mem_poke64(uint64_t pa, uint64_t value) {
  if (pa >= PA_LIMIT || pa % 8 != 0) abort(); /* a harness bug, not KCore's */
  memcpy(page_of(pa, 1) + (pa & (PAGE_SIZE - 1)), &value, sizeof value);
  record_touch(pa >> 12);
}
