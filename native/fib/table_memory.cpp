#include "fib/table_memory.h"

#include <sys/mman.h>

#include <rte_malloc.h>

namespace appliance {

TableBuffer::TableBuffer(TableMemory where, size_t bytes, const char* name)
    : where_(where), bytes_(bytes) {
    if (where == TableMemory::hugepages) {
        data_ = rte_zmalloc(name, bytes, RTE_CACHE_LINE_SIZE);
        return;
    }
    // Untouched pages read as zeros and cost nothing; MADV_HUGEPAGE keeps the
    // touched ones 2 MiB (TLB reach like hugepages) where the kernel allows it.
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    madvise(p, bytes, MADV_HUGEPAGE);
    data_ = p;
}

TableBuffer::~TableBuffer() {
    if (data_ == nullptr) return;
    if (where_ == TableMemory::hugepages) rte_free(data_);
    else munmap(data_, bytes_);
}

}  // namespace appliance
