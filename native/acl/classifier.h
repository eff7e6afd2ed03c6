// One ACL compiled for the fast path: per family an rte_acl context that
// classifies packets in place (acl_key.h) and a small one for packets with
// no L4 header to read; what each entry's match means for a packet (a
// next-hop id that replaces the route's, or "keep the route"); the
// per-worker hit counters. Immutable once built; a change builds a new one
// and publishes it under RCU.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "acl/acl_entry.h"

struct rte_acl_ctx;

namespace appliance {

// Permit: the route (or rule) decides. Never a next-hop id (those are 24 bits).
constexpr uint32_t kAclKeep = 0xfffffffdu;

// The internal next hops deny and reject stand for: drop hops whose drop
// reason says which (reject's answers with ICMP administratively prohibited).
struct AclHops {
    uint32_t deny, reject;
};

struct AclCount {
    uint64_t packets = 0, bytes = 0;
    AclCount& operator+=(const AclCount& o) { packets += o.packets; bytes += o.bytes; return *this; }
    bool operator==(const AclCount& o) const { return packets == o.packets && bytes == o.bytes; }
};

// Which contexts there are: [family][kind].
enum AclFamily : unsigned { kAcl4, kAcl6 };
enum AclKind : unsigned { kAclWhole, kAclPartial };

class AclClassifier {
public:
    // AclError (naming the entry where one is at fault) or ResourceError when
    // a context cannot be built; nothing is published then.
    // `max_bytes`: the run-time memory one context may take (0: no limit).
    AclClassifier(const AclDef& def, const AclHops& hops, unsigned workers, uint64_t max_bytes);
    ~AclClassifier();
    AclClassifier(const AclClassifier&) = delete;
    AclClassifier& operator=(const AclClassifier&) = delete;

    // results[i]: 0 when no entry matched (the default), else entry index + 1.
    // Whole packets: `data` points at the IP header (or a canonical copy).
    void classify(AclFamily f, AclKind k, const uint8_t** data, uint32_t* results, uint32_t n) const;
    // Where in-place input starts, from the IP header (the layout's first field).
    uint32_t input_offset(AclFamily f) const { return offset_[f]; }
    // Whether some entry matches TCP flags (in-place input then reads that far).
    bool tcp_flags() const { return tcp_flags_; }

    uint32_t verdict(uint32_t result) const { return verdicts_[result]; }
    const uint32_t* verdicts() const { return verdicts_.data(); }  // by result
    // A redirect: it replaces a route, never delivery to the router itself.
    bool redirects(uint32_t result) const { return redirects_[result]; }
    // Worker `worker`'s counters: [2r] packets, [2r + 1] bytes for result r.
    uint64_t* counters(unsigned worker) const { return counters_ + size_t(worker) * stride_; }

    // Totals over the workers: [0] the default, [i + 1] entry i.
    std::vector<AclCount> totals() const;
    size_t memory() const { return memory_; }  // bytes of the rte_acl run-time structures
    bool has_redirect() const { return has_redirect_; }

private:
    rte_acl_ctx* build(const AclDef& def, AclFamily f, AclKind k, uint64_t max_bytes);

    rte_acl_ctx* ctx_[2][2] = {};  // nullptr: no entry for it (all take the default)
    uint32_t offset_[2] = {};
    bool extended_ = false;   // some entry matches DSCP or TCP flags: the wider layouts
    bool tcp_flags_ = false;
    std::vector<uint32_t> verdicts_;  // by result
    std::vector<uint8_t> redirects_;  // by result
    uint64_t* counters_ = nullptr;    // rte_zmalloc'd, a cache-aligned block per worker
    size_t stride_ = 0;
    unsigned workers_;
    size_t memory_ = 0;
    bool has_redirect_ = false;
};

}  // namespace appliance
