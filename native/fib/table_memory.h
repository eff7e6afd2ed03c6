// Where a lookup table's arrays live. The global VRF's are in DPDK
// hugepages: reserved at start, pinned, as l3fwd's. Every other VRF's are
// address space reserved with mmap and backed only where routes write
// (transparent huge pages, 2 MiB at a time), so a VRF costs the memory its
// routes touch and the hugepage budget does not bound how many there are.
#pragma once

#include <cstddef>

namespace appliance {

enum class TableMemory { hugepages, on_demand };

// A zeroed array of `bytes`; data() is nullptr when the memory is not there.
class TableBuffer {
public:
    TableBuffer(TableMemory where, size_t bytes, const char* name);
    ~TableBuffer();
    TableBuffer(const TableBuffer&) = delete;
    TableBuffer& operator=(const TableBuffer&) = delete;

    void* data() const { return data_; }
    template <class T>
    T* as() const { return static_cast<T*>(data_); }

private:
    TableMemory where_;
    size_t bytes_;
    void* data_ = nullptr;
};

}  // namespace appliance
