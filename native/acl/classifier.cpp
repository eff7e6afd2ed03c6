#include "acl/classifier.h"

#include <atomic>
#include <cstddef>

#include <rte_acl.h>
#include <rte_malloc.h>

#include "acl/acl_key.h"
#include "core/errors.h"

namespace appliance {

namespace {

constexpr unsigned kFields4 = 6, kFields6 = 12;
RTE_ACL_RULE_DEF(AclRule4, kFields4);
RTE_ACL_RULE_DEF(AclRule6, kFields6);

rte_acl_field_def field(uint8_t type, uint8_t size, uint8_t index, uint8_t input, size_t offset) {
    return {type, size, index, input, uint32_t(offset)};
}

// Protocol first (read alone), then TCP flags, DSCP and the fragment bit as
// one 32-bit bitmask (three one-byte fields in a group do not classify).
template <class Key>
unsigned common_fields(rte_acl_field_def* d) {
    static_assert(offsetof(Key, dscp) == offsetof(Key, tcp_flags) + 1 &&
                  offsetof(Key, frag) == offsetof(Key, tcp_flags) + 2, "one 32-bit group");
    d[0] = field(RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, offsetof(Key, proto));
    d[1] = field(RTE_ACL_FIELD_TYPE_BITMASK, 4, 1, 1, offsetof(Key, tcp_flags));
    return 2;
}

rte_acl_config config4() {
    rte_acl_config c{};
    c.num_categories = 1;
    unsigned n = common_fields<AclKey4>(c.defs);
    c.defs[n] = field(RTE_ACL_FIELD_TYPE_MASK, 4, n, 2, offsetof(AclKey4, src)), n++;
    c.defs[n] = field(RTE_ACL_FIELD_TYPE_MASK, 4, n, 3, offsetof(AclKey4, dst)), n++;
    c.defs[n] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, n, 4, offsetof(AclKey4, src_port)), n++;
    c.defs[n] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, n, 4, offsetof(AclKey4, dst_port)), n++;
    c.num_fields = n;
    return c;
}

rte_acl_config config6() {
    rte_acl_config c{};
    c.num_categories = 1;
    unsigned n = common_fields<AclKey6>(c.defs);
    for (unsigned w = 0; w < 4; ++w, ++n)
        c.defs[n] = field(RTE_ACL_FIELD_TYPE_MASK, 4, n, uint8_t(2 + w), offsetof(AclKey6, src) + 4 * w);
    for (unsigned w = 0; w < 4; ++w, ++n)
        c.defs[n] = field(RTE_ACL_FIELD_TYPE_MASK, 4, n, uint8_t(6 + w), offsetof(AclKey6, dst) + 4 * w);
    c.defs[n] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, n, 10, offsetof(AclKey6, src_port)), n++;
    c.defs[n] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, n, 10, offsetof(AclKey6, dst_port)), n++;
    c.num_fields = n;
    return c;
}

void bitmask(rte_acl_field& f, uint8_t value, uint8_t mask) {
    f.value.u8 = value & mask;
    f.mask_range.u8 = mask;
}

// The flags group in host order: the key's first byte is the most significant.
void flags_group(rte_acl_field& f, uint8_t tcp_value, uint8_t tcp_mask, uint8_t dscp_value,
                 uint8_t dscp_mask, uint8_t frag_value, uint8_t frag_mask) {
    f.mask_range.u32 = uint32_t(tcp_mask) << 24 | uint32_t(dscp_mask) << 16 | uint32_t(frag_mask) << 8;
    f.value.u32 = (uint32_t(tcp_value) << 24 | uint32_t(dscp_value) << 16 | uint32_t(frag_value) << 8) &
                  f.mask_range.u32;
}

void range(rte_acl_field& f, uint16_t lo, uint16_t hi) {
    f.value.u16 = lo;
    f.mask_range.u16 = hi;
}

// 32 bits of an address (host order) and how many of them the prefix covers.
void word(rte_acl_field& f, const IpAddr& a, unsigned first_byte, int bits) {
    f.value.u32 = uint32_t(a.b[first_byte]) << 24 | uint32_t(a.b[first_byte + 1]) << 16 |
                  uint32_t(a.b[first_byte + 2]) << 8 | a.b[first_byte + 3];
    f.mask_range.u32 = uint32_t(bits < 0 ? 0 : bits > 32 ? 32 : bits);
    if (f.mask_range.u32 == 0) f.value.u32 = 0;
}

// The fields both families share, in the order common_fields() defines them.
void common_values(rte_acl_field* f, const AclEntry& e) {
    bitmask(f[0], uint8_t(e.proto), e.proto < 0 ? 0 : 0xff);
    const int8_t fragment = e.fragment >= 0 ? e.fragment : e.has_l4() ? 0 : -1;
    flags_group(f[1], e.tcp_flags, e.tcp_mask, uint8_t(e.dscp), e.dscp < 0 ? 0 : 0x3f,
                fragment == 1 ? kAclNonFirstFragment : 0, fragment < 0 ? 0 : kAclNonFirstFragment);
}

// Ports for TCP/UDP/SCTP; ICMP's type and code in the same two fields.
void l4_values(rte_acl_field* f, const AclEntry& e) {
    if (e.icmp_type >= 0 || e.icmp_code >= 0) {
        range(f[0], e.icmp_type < 0 ? 0 : e.icmp_type, e.icmp_type < 0 ? 255 : e.icmp_type);
        range(f[1], e.icmp_code < 0 ? 0 : e.icmp_code, e.icmp_code < 0 ? 255 : e.icmp_code);
        return;
    }
    range(f[0], e.src_port_lo, e.src_port_hi);
    range(f[1], e.dst_port_lo, e.dst_port_hi);
}

std::atomic<unsigned> g_contexts{0};  // rte_acl context names are global

size_t heap_in_use() {
    size_t total = 0;
    for (unsigned s = 0; s < rte_socket_count(); ++s) {
        rte_malloc_socket_stats st{};
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) == 0)
            total += st.heap_allocsz_bytes;
    }
    return total;
}

}  // namespace

AclClassifier::AclClassifier(const AclDef& def, const AclHops& hops, unsigned workers)
    : workers_(workers) {
    verdicts_.reserve(def.entries.size() + 1);
    auto verdict_of = [&](AclAction a, uint32_t nexthop) {
        switch (a) {
        case AclAction::permit: return kAclKeep;
        case AclAction::deny: return hops.deny;
        case AclAction::reject: return hops.reject;
        case AclAction::redirect: return nexthop;
        }
        return kAclKeep;
    };
    verdicts_.push_back(verdict_of(def.default_action, 0));
    redirects_.push_back(0);
    for (const AclEntry& e : def.entries) {
        verdicts_.push_back(verdict_of(e.action, e.nexthop));
        redirects_.push_back(e.action == AclAction::redirect);
        has_redirect_ |= e.action == AclAction::redirect;
    }
    stride_ = RTE_ALIGN_CEIL(verdicts_.size() * 2, RTE_CACHE_LINE_SIZE / sizeof(uint64_t));
    counters_ = static_cast<uint64_t*>(
        rte_zmalloc("acl_counters", stride_ * workers * sizeof(uint64_t), RTE_CACHE_LINE_SIZE));
    if (counters_ == nullptr) throw ResourceError("no memory for the ACL's counters");
    const size_t before = heap_in_use();
    try {
        ctx4_ = build(def, 4);
        ctx6_ = build(def, 6);
    } catch (...) {
        rte_acl_free(ctx4_);
        rte_free(counters_);
        throw;
    }
    const size_t after = heap_in_use();
    memory_ = after > before ? after - before : 0;
}

AclClassifier::~AclClassifier() {
    rte_acl_free(ctx4_);
    rte_acl_free(ctx6_);
    rte_free(counters_);
}

rte_acl_ctx* AclClassifier::build(const AclDef& def, unsigned family) {
    const rte_acl_config cfg = family == 4 ? config4() : config6();
    size_t count = 0;
    for (const AclEntry& e : def.entries) count += e.applies_to(family);
    if (count == 0) return nullptr;
    const std::string name = "acl" + std::to_string(g_contexts++);
    rte_acl_param param{};
    param.name = name.c_str();
    param.socket_id = SOCKET_ID_ANY;
    param.rule_size = RTE_ACL_RULE_SZ(cfg.num_fields);
    param.max_rule_num = uint32_t(count);
    rte_acl_ctx* ctx = rte_acl_create(&param);
    if (ctx == nullptr) throw ResourceError("cannot create an ACL context: " + dpdk_strerror(rte_errno));
    const uint32_t n = uint32_t(def.entries.size());
    for (uint32_t i = 0; i < n; ++i) {
        const AclEntry& e = def.entries[i];
        if (!e.applies_to(family)) continue;
        AclRule6 rule{};  // the wider of the two layouts
        rule.data.category_mask = 1;
        rule.data.priority = int32_t(RTE_ACL_MAX_PRIORITY - i);  // the first entry wins
        rule.data.userdata = i + 1;
        common_values(rule.field, e);
        if (family == 4) {
            word(rule.field[2], e.src, 12, e.src_len);
            word(rule.field[3], e.dst, 12, e.dst_len);
            l4_values(&rule.field[4], e);
        } else {
            for (unsigned w = 0; w < 4; ++w) {
                word(rule.field[2 + w], e.src, 4 * w, int(e.src_len) - 32 * int(w));
                word(rule.field[6 + w], e.dst, 4 * w, int(e.dst_len) - 32 * int(w));
            }
            l4_values(&rule.field[10], e);
        }
        const int rc = rte_acl_add_rules(ctx, reinterpret_cast<const rte_acl_rule*>(&rule), 1);
        if (rc != 0) {
            rte_acl_free(ctx);
            throw AclError(describe_entry(e, i) + ": not accepted by the classifier: " + dpdk_strerror(rc));
        }
    }
    const int rc = rte_acl_build(ctx, &cfg);
    if (rc != 0) {
        rte_acl_free(ctx);
        throw ResourceError("cannot build the IPv" + std::to_string(family) + " classifier of " +
                            std::to_string(count) + " entries: " + dpdk_strerror(rc));
    }
    return ctx;
}

void AclClassifier::classify(rte_acl_ctx* ctx, const uint8_t** keys, uint32_t* results, uint32_t n) {
    if (ctx == nullptr) {
        for (uint32_t i = 0; i < n; ++i) results[i] = 0;
        return;
    }
    rte_acl_classify(ctx, keys, results, n, 1);
}

std::vector<AclCount> AclClassifier::totals() const {
    std::vector<AclCount> out(verdicts_.size());
    for (unsigned w = 0; w < workers_; ++w) {
        const uint64_t* c = counters(w);
        for (size_t r = 0; r < out.size(); ++r) {
            out[r].packets += c[2 * r];
            out[r].bytes += c[2 * r + 1];
        }
    }
    return out;
}

}  // namespace appliance
