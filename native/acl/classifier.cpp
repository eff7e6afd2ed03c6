#include "acl/classifier.h"

#include <atomic>
#include <cerrno>
#include <cstddef>

#include <rte_acl.h>
#include <rte_malloc.h>

#include "acl/acl_key.h"
#include "core/errors.h"

namespace appliance {

namespace {

// What a field of a layout holds; its value for an entry comes from field_value().
enum class Field : uint8_t { proto, tos, vtc, frag_dscp, src4, dst4, src6, dst6, sport, dport, tcp };

struct FieldSpec {
    Field what;
    uint8_t word;     // src6/dst6: which 32 bits of the address
    uint8_t input;    // rte_acl input index: the first field alone, then groups of 4 bytes
    uint32_t offset;  // from the input's start
};

struct Layout {
    std::vector<FieldSpec> fields;
    uint32_t base;  // where in-place input starts, from the IP header
};

// The in-place layouts read the IP header where the fields are: the 5-tuple
// (l3fwd's ACL layout; the protocol byte first, as rte_acl wants), or with
// DSCP and TCP flags too when an entry matches them. The partial layouts read
// an AclPartialKey. Offsets of the whole ones assume a 20-byte IPv4 header
// and an IPv6 header with the L4 header behind it (else: a canonical copy).
Layout whole4(bool extended) {
    if (!extended)
        return {{{Field::proto, 0, 0, 0}, {Field::src4, 0, 1, 3}, {Field::dst4, 0, 2, 7},
                 {Field::sport, 0, 3, 11}, {Field::dport, 0, 3, 13}},
                offsetof(rte_ipv4_hdr, next_proto_id)};
    return {{{Field::proto, 0, 0, 9}, {Field::tos, 0, 1, 0}, {Field::src4, 0, 2, 12},
             {Field::dst4, 0, 3, 16}, {Field::sport, 0, 4, 20}, {Field::dport, 0, 4, 22},
             {Field::tcp, 0, 5, 32}},
            0};
}

Layout whole6(bool extended) {
    Layout l{{{Field::proto, 0, 0, offsetof(rte_ipv6_hdr, proto)}}, 0};
    uint8_t input = 1;
    if (extended) l.fields.push_back({Field::vtc, 0, input++, 0});
    for (uint8_t w = 0; w < 4; ++w) l.fields.push_back({Field::src6, w, input++, uint32_t(8 + 4 * w)});
    for (uint8_t w = 0; w < 4; ++w) l.fields.push_back({Field::dst6, w, input++, uint32_t(24 + 4 * w)});
    l.fields.push_back({Field::sport, 0, input, 40});
    l.fields.push_back({Field::dport, 0, input++, 42});
    if (extended) l.fields.push_back({Field::tcp, 0, input++, 52});
    return l;
}

Layout partial4() {
    return {{{Field::proto, 0, 0, offsetof(AclPartialKey4, proto)},
             {Field::frag_dscp, 0, 1, offsetof(AclPartialKey4, frag)},
             {Field::src4, 0, 2, offsetof(AclPartialKey4, src)},
             {Field::dst4, 0, 3, offsetof(AclPartialKey4, dst)}},
            0};
}

Layout partial6() {
    Layout l{{{Field::proto, 0, 0, offsetof(AclPartialKey6, proto)},
              {Field::frag_dscp, 0, 1, offsetof(AclPartialKey6, frag)}},
             0};
    for (uint8_t w = 0; w < 4; ++w)
        l.fields.push_back({Field::src6, w, uint8_t(2 + w), uint32_t(offsetof(AclPartialKey6, src) + 4 * w)});
    for (uint8_t w = 0; w < 4; ++w)
        l.fields.push_back({Field::dst6, w, uint8_t(6 + w), uint32_t(offsetof(AclPartialKey6, dst) + 4 * w)});
    return l;
}

constexpr unsigned kMaxFields = 16;
RTE_ACL_RULE_DEF(AclRule, kMaxFields);

uint8_t type_of(Field f) {
    switch (f) {
    case Field::src4: case Field::dst4: case Field::src6: case Field::dst6: return RTE_ACL_FIELD_TYPE_MASK;
    case Field::sport: case Field::dport: return RTE_ACL_FIELD_TYPE_RANGE;
    default: return RTE_ACL_FIELD_TYPE_BITMASK;
    }
}

uint8_t size_of(Field f) {
    switch (f) {
    case Field::proto: return 1;
    case Field::sport: case Field::dport: return 2;
    default: return 4;
    }
}

rte_acl_config config_of(const Layout& l) {
    rte_acl_config c{};
    c.num_categories = 1;
    c.num_fields = uint32_t(l.fields.size());
    for (size_t i = 0; i < l.fields.size(); ++i) {
        const FieldSpec& f = l.fields[i];
        c.defs[i] = {type_of(f.what), size_of(f.what), uint8_t(i), f.input, f.offset};
    }
    return c;
}

// 32 bits of an address (host order) and how many of them the prefix covers.
void address_word(rte_acl_field& f, const IpAddr& a, unsigned first_byte, int bits) {
    const unsigned covered = unsigned(bits < 0 ? 0 : bits > 32 ? 32 : bits);
    const uint32_t value = uint32_t(a.b[first_byte]) << 24 | uint32_t(a.b[first_byte + 1]) << 16 |
                           uint32_t(a.b[first_byte + 2]) << 8 | a.b[first_byte + 3];
    f.value.u32 = covered == 0 ? 0 : value;
    f.mask_range.u32 = covered;
}

void bitmask32(rte_acl_field& f, uint32_t value, uint32_t mask) {
    f.value.u32 = value & mask;
    f.mask_range.u32 = mask;
}

// ICMP's type and code are the first two bytes of the L4 header, where the
// source port is: one 16-bit range, the type exact and the code one or all.
std::pair<uint16_t, uint16_t> source_range(const AclEntry& e) {
    if (e.icmp_type >= 0) {
        const uint16_t type = uint16_t(e.icmp_type) << 8;
        return e.icmp_code >= 0 ? std::pair{uint16_t(type | e.icmp_code), uint16_t(type | e.icmp_code)}
                                : std::pair{type, uint16_t(type | 0xff)};
    }
    return {e.src_port_lo, e.src_port_hi};
}

void field_value(rte_acl_field& f, const FieldSpec& spec, const AclEntry& e) {
    const uint32_t dscp = e.dscp < 0 ? 0 : uint32_t(e.dscp), dscp_mask = e.dscp < 0 ? 0 : 0x3f;
    switch (spec.what) {
    case Field::proto:
        f.value.u8 = e.proto < 0 ? 0 : uint8_t(e.proto);
        f.mask_range.u8 = e.proto < 0 ? 0 : 0xff;
        return;
    case Field::tos: return bitmask32(f, dscp << 18, dscp_mask << 18);          // byte 1, bits 7..2
    case Field::vtc: return bitmask32(f, dscp << 22, dscp_mask << 22);          // traffic class' top 6
    case Field::frag_dscp: {
        const uint32_t frag = e.fragment == 1 ? kAclNonFirstFragment : 0;
        const uint32_t frag_mask = e.fragment < 0 ? 0 : kAclNonFirstFragment;
        return bitmask32(f, frag << 24 | dscp << 16, frag_mask << 24 | dscp_mask << 16);
    }
    case Field::src4: return address_word(f, e.src, 12, e.src_len);
    case Field::dst4: return address_word(f, e.dst, 12, e.dst_len);
    case Field::src6: return address_word(f, e.src, 4 * spec.word, int(e.src_len) - 32 * spec.word);
    case Field::dst6: return address_word(f, e.dst, 4 * spec.word, int(e.dst_len) - 32 * spec.word);
    case Field::sport: {
        const auto [lo, hi] = source_range(e);
        f.value.u16 = lo;
        f.mask_range.u16 = hi;
        return;
    }
    case Field::dport:
        f.value.u16 = e.icmp_type >= 0 ? 0 : e.dst_port_lo;
        f.mask_range.u16 = e.icmp_type >= 0 ? 0xffff : e.dst_port_hi;
        return;
    case Field::tcp: return bitmask32(f, uint32_t(e.tcp_flags) << 16, uint32_t(e.tcp_mask) << 16);
    }
}

// Which entries a context holds: whole packets cannot be non-first fragments;
// partial ones have no L4 header an entry's ports, ICMP or flags could match.
bool belongs(const AclEntry& e, AclKind k) {
    return k == kAclWhole ? e.fragment != 1 : !e.has_l4();
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

AclClassifier::AclClassifier(const AclDef& def, const AclHops& hops, unsigned workers,
                             uint64_t max_bytes)
    : workers_(workers) {
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
        extended_ |= e.dscp >= 0 || e.tcp_mask != 0;
        tcp_flags_ |= e.tcp_mask != 0;
    }
    offset_[kAcl4] = whole4(extended_).base;
    offset_[kAcl6] = whole6(extended_).base;
    stride_ = RTE_ALIGN_CEIL(verdicts_.size() * 2, RTE_CACHE_LINE_SIZE / sizeof(uint64_t));
    counters_ = static_cast<uint64_t*>(
        rte_zmalloc("acl_counters", stride_ * workers * sizeof(uint64_t), RTE_CACHE_LINE_SIZE));
    if (counters_ == nullptr) throw ResourceError("no memory for the ACL's counters");
    const size_t before = heap_in_use();
    try {
        for (AclFamily f : {kAcl4, kAcl6})
            for (AclKind k : {kAclWhole, kAclPartial}) ctx_[f][k] = build(def, f, k, max_bytes);
    } catch (...) {
        for (auto& family : ctx_)
            for (rte_acl_ctx* ctx : family) rte_acl_free(ctx);
        rte_free(counters_);
        throw;
    }
    const size_t after = heap_in_use();
    memory_ = after > before ? after - before : 0;
}

AclClassifier::~AclClassifier() {
    for (auto& family : ctx_)
        for (rte_acl_ctx* ctx : family) rte_acl_free(ctx);
    rte_free(counters_);
}

rte_acl_ctx* AclClassifier::build(const AclDef& def, AclFamily f, AclKind k, uint64_t max_bytes) {
    const unsigned family = f == kAcl4 ? 4 : 6;
    const Layout layout = k == kAclWhole ? (f == kAcl4 ? whole4(extended_) : whole6(extended_))
                                         : (f == kAcl4 ? partial4() : partial6());
    rte_acl_config cfg = config_of(layout);
    cfg.max_size = max_bytes;  // rte_acl splits the rules over more tries first, then refuses
    size_t count = 0;
    for (const AclEntry& e : def.entries) count += e.applies_to(family) && belongs(e, k);
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
        if (!e.applies_to(family) || !belongs(e, k)) continue;
        AclRule rule{};
        rule.data.category_mask = 1;
        rule.data.priority = int32_t(RTE_ACL_MAX_PRIORITY - i);  // the first entry wins
        rule.data.userdata = i + 1;
        for (size_t j = 0; j < layout.fields.size(); ++j) field_value(rule.field[j], layout.fields[j], e);
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
                            std::to_string(count) + " entries" +
                            (rc == -ERANGE ? " within tables.max_acl_memory_mb (" +
                                                 std::to_string(max_bytes >> 20) + " MiB)"
                                           : ": " + dpdk_strerror(rc)) +
                            "; the ACL in force stays");
    }
    return ctx;
}

void AclClassifier::classify(AclFamily f, AclKind k, const uint8_t** data, uint32_t* results,
                             uint32_t n) const {
    rte_acl_ctx* ctx = ctx_[f][k];
    if (ctx == nullptr) {
        for (uint32_t i = 0; i < n; ++i) results[i] = 0;
        return;
    }
    rte_acl_classify(ctx, data, results, n, 1);
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
