// Stage 1's common-case test for eight packets at once, with AVX-512: the
// same test as the scalar one in forward.cpp (option-less IPv4 to the port's
// MAC, whole, TTL > 1, source not martian, checksum good when asked), each
// check one instruction across the eight headers instead of eight; IPv6 to
// the port's MAC is picked out on the way. What it refuses goes to
// ipv4_input() for the exact verdict, as the scalar test's does.
//
// The headers and mbufs are loaded 32 bytes each and transposed so that one
// register holds the same 8 bytes of all eight packets (a "column"), then
// tested column-wise. Compiled for AVX-512 whatever the build's -march; the
// worker calls it only when the CPU has it (avx512_input_usable()).
#pragma once

#include <cstddef>

#include <immintrin.h>
#include <rte_cpuflags.h>
#include <rte_mbuf.h>
#include <rte_vect.h>

#include "ip4/ipv4_input.h"

// GCC 12's AVX-512 intrinsics start vectors from _mm512_undefined_*(), which
// it then reports as used uninitialized (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define APPLIANCE_AVX512 __attribute__((target("avx512f,avx512bw")))
// Inlined into the stage: a call per eight packets would also cost a vzeroupper.
#define APPLIANCE_AVX512_INLINE APPLIANCE_AVX512 inline __attribute__((always_inline))

namespace appliance {

// The mbuf fields the test reads lie in its bytes 16-47: data_off's 8 bytes,
// ol_flags, packet_type + pkt_len, data_len + vlan_tci + hash.
static_assert(offsetof(rte_mbuf, ol_flags) == 24);
static_assert(offsetof(rte_mbuf, pkt_len) == 36);
static_assert(offsetof(rte_mbuf, data_len) == 40);
constexpr size_t kMbufFieldsAt = 16;

// True when this CPU has the instructions and the EAL's SIMD limit
// (--force-max-simd-bitwidth) allows 512-bit paths, as DPDK's drivers decide.
inline bool avx512_input_usable() {
    return rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0 &&
           rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512BW) > 0 &&
           rte_vect_get_max_simd_bitwidth() >= RTE_VECT_SIMD_512;
}

// Columns 1-3 of eight 32-byte rows: out[k] lane j is row j's 64-bit word k.
// rows[i] holds rows i (low half) and i + 4 (high half).
APPLIANCE_AVX512_INLINE void transpose_columns(const __m512i rows[4], __m512i out[4]) {
    const __m512i lo01 = _mm512_unpacklo_epi64(rows[0], rows[1]);  // words 0, 2 of rows 0, 1, 4, 5
    const __m512i hi01 = _mm512_unpackhi_epi64(rows[0], rows[1]);  // words 1, 3
    const __m512i lo23 = _mm512_unpacklo_epi64(rows[2], rows[3]);
    const __m512i hi23 = _mm512_unpackhi_epi64(rows[2], rows[3]);
    const __m512i even = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i odd = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    out[0] = _mm512_permutex2var_epi64(lo01, even, lo23);
    out[1] = _mm512_permutex2var_epi64(hi01, even, hi23);
    out[2] = _mm512_permutex2var_epi64(lo01, odd, lo23);
    out[3] = _mm512_permutex2var_epi64(hi01, odd, hi23);
}

// 32 bytes at p[i] + at in the low half, at p[i + 4] + at in the high half:
// two masked loads (a 256-bit load and an insert are three instructions
// once GCC splits unaligned 256-bit loads, as it does for this -march).
APPLIANCE_AVX512_INLINE __m512i rows_of(const uint8_t* const p[8], size_t at, int i) {
    const __m512i lo = _mm512_maskz_loadu_epi64(0x0f, p[i] + at);
    return _mm512_mask_loadu_epi64(lo, 0xf0, p[i + 4] + at - 32);
}

APPLIANCE_AVX512_INLINE __m512i u64(uint64_t v) { return _mm512_set1_epi64(int64_t(v)); }

// Bit i of `ipv4` set: pkts[i] passes the IPv4 test; of `ipv6`: it is IPv6
// to the port's MAC, for forward6_burst() (ipv4_input() says kIpv6 for it).
struct InputMasks {
    unsigned ipv4;
    unsigned ipv6;
};

// dst_host[i]: pkts[i]'s IPv4 destination, host order (meaningless where its
// ipv4 bit is clear). Reads frame bytes 0-33, which every mbuf's data room
// holds, whatever the frame's length: the length tests decide whether they count.
APPLIANCE_AVX512_INLINE InputMasks ipv4_common_case_x8(rte_mbuf* const* pkts, uint64_t port_mac,
                                                       const InlineVrrpMacs& vrrp,
                                                       bool verify_checksum, uint32_t* dst_host) {
    const uint8_t* frame[8];
    const uint8_t* mbuf[8];
    for (int i = 0; i < 8; ++i) {
        frame[i] = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
        mbuf[i] = reinterpret_cast<const uint8_t*>(pkts[i]);
    }
    // Frame bytes 2-33: the header from the EtherType on, in 64-bit columns:
    // h[1] bytes 10-17 (EtherType 12-13, version/IHL 14, total length 16-17),
    // h[2] bytes 18-25 (TTL 22), h[3] bytes 26-33 (source, destination).
    __m512i rows[4], h[4], f[4];
    for (int i = 0; i < 4; ++i) rows[i] = rows_of(frame, 2, i);
    transpose_columns(rows, h);
    // mbuf bytes 16-47: f[1] ol_flags, f[2] packet_type | pkt_len << 32, f[3] data_len.
    for (int i = 0; i < 4; ++i) rows[i] = rows_of(mbuf, kMbufFieldsAt, i);
    transpose_columns(rows, f);
    // The destination MAC (bytes 0-5), eight loads into one register.
    const __m512i dst_mac = _mm512_set_epi64(
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[7]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[6]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[5]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[4]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[3]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[2]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[1]))),
        int64_t(dst_mac48(reinterpret_cast<const rte_ether_hdr*>(frame[0]))));

    // The port's MAC, or a VRRP master's virtual one (kNoVrrpMac: none).
    const __mmask8 for_us = _mm512_cmpeq_epi64_mask(dst_mac, u64(port_mac)) |
                            _mm512_cmpeq_epi64_mask(dst_mac, u64(vrrp.a)) |
                            _mm512_cmpeq_epi64_mask(dst_mac, u64(vrrp.b));
    const __m512i data_len = _mm512_and_si512(f[3], u64(0xffff));
    // IPv6: EtherType 0x86dd (bytes 12-13) in a frame that holds its Ethernet header.
    const __mmask8 ipv6 = _mm512_mask_cmpeq_epi64_mask(
        for_us, _mm512_and_si512(h[1], u64(0xffff0000ull)), u64(0xdd860000ull)) &
        _mm512_cmpge_epu64_mask(data_len, u64(sizeof(rte_ether_hdr)));
    __mmask8 ok = for_us;
    // EtherType 0x0800 and version/IHL 0x45: bytes 12-14 of the frame.
    ok &= _mm512_cmpeq_epi64_mask(_mm512_and_si512(h[1], u64(0x000000ffffff0000ull)),
                                  u64(0x0000004500080000ull));
    // Total length (big-endian bytes 16-17) to host order, in the low 16 bits.
    const __m512i total = _mm512_shuffle_epi8(
        h[1], _mm512_set4_epi32(-1, 0xffff0e0f, -1, 0xffff0607));
    const __m512i pkt_len = _mm512_srli_epi64(f[2], 32);
    ok &= _mm512_cmpge_epu64_mask(total, u64(sizeof(rte_ipv4_hdr)));
    ok &= _mm512_cmple_epu64_mask(_mm512_add_epi64(total, u64(sizeof(rte_ether_hdr))), pkt_len);
    ok &= _mm512_cmpge_epu64_mask(data_len, u64(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)));
    // TTL (byte 22) > 1.
    ok &= _mm512_cmpgt_epu64_mask(_mm512_and_si512(h[2], u64(0xff00000000ull)), u64(0x100000000ull));
    // Martian source (RFC 1812 5.3.7): first octet (byte 26) 0, 127 or >= 224.
    const __m512i octet = _mm512_and_si512(h[3], u64(0xff));
    ok &= ~(_mm512_cmpeq_epi64_mask(octet, u64(0)) | _mm512_cmpeq_epi64_mask(octet, u64(127)) |
            _mm512_cmpge_epu64_mask(octet, u64(224)));

    if (verify_checksum) {
        // The header's ten 16-bit words (bytes 14-33) summed in 64-bit lanes,
        // then folded: one's complement, so byte order does not matter.
        const __m512i words = u64(0x0000ffff0000ffffull);
        const __m512i pairs = _mm512_add_epi64(
            _mm512_add_epi64(_mm512_and_si512(h[2], words), _mm512_and_si512(h[3], words)),
            _mm512_add_epi64(_mm512_and_si512(_mm512_srli_epi64(h[2], 16), words),
                             _mm512_and_si512(_mm512_srli_epi64(h[3], 16), words)));
        const __m512i first = _mm512_srli_epi64(h[1], 32);  // bytes 14-17
        __m512i sum = _mm512_add_epi64(
            _mm512_add_epi64(_mm512_and_si512(pairs, u64(0xffffffff)), _mm512_srli_epi64(pairs, 32)),
            _mm512_add_epi64(_mm512_and_si512(first, u64(0xffff)), _mm512_srli_epi64(first, 16)));
        sum = _mm512_add_epi64(_mm512_and_si512(sum, u64(0xffff)), _mm512_srli_epi64(sum, 16));
        sum = _mm512_add_epi64(_mm512_and_si512(sum, u64(0xffff)), _mm512_srli_epi64(sum, 16));
        const __mmask8 sum_ok = _mm512_cmpeq_epi64_mask(sum, u64(0xffff));
        // A device's verdict, where it gives one, stands (vdevs give none).
        const __m512i flags = _mm512_and_si512(f[1], u64(RTE_MBUF_F_RX_IP_CKSUM_MASK));
        const __mmask8 good = _mm512_cmpeq_epi64_mask(flags, u64(RTE_MBUF_F_RX_IP_CKSUM_GOOD));
        const __mmask8 bad = _mm512_cmpeq_epi64_mask(flags, u64(RTE_MBUF_F_RX_IP_CKSUM_BAD));
        ok &= good | (sum_ok & ~bad);
    }
    // Destination (bytes 30-33) to host order, one 32-bit value per packet.
    const __m512i dst = _mm512_shuffle_epi8(h[3], _mm512_set4_epi32(-1, 0x0c0d0e0f, -1, 0x04050607));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst_host), _mm512_cvtepi64_epi32(dst));
    return {ok, ipv6};
}

}  // namespace appliance

#pragma GCC diagnostic pop
