#include "rules/rule_filter.h"

namespace appliance {

namespace {
constexpr uint32_t kMinWords = 64;       // 4 Ki bits
constexpr uint32_t kMaxWords = 1u << 17;  // 8 Mi bits, 1 MiB

uint32_t words_for(uint32_t capacity) {
    uint32_t words = kMinWords;
    while (words < kMaxWords && uint64_t(words) * 64 < uint64_t(capacity) * 8) words <<= 1;
    return words;
}
}  // namespace

RuleFilter::RuleFilter(uint32_t capacity) {
    const uint32_t words = words_for(capacity);
    words_ = std::make_unique<std::atomic<uint64_t>[]>(words);
    for (uint32_t i = 0; i < words; ++i) words_[i].store(0, std::memory_order_relaxed);
    mask_ = words - 1;
}

void RuleFilter::count_bit(uint32_t word, unsigned bit, int delta) {
    const uint64_t key = uint64_t(word) << 6 | bit;
    if (delta > 0) {
        if (rules_per_bit_[key]++ == 0)
            words_[word].fetch_or(1ull << bit, std::memory_order_release);
        return;
    }
    auto it = rules_per_bit_.find(key);
    if (it == rules_per_bit_.end()) return;
    if (--it->second == 0) {
        rules_per_bit_.erase(it);
        words_[word].fetch_and(~(1ull << bit), std::memory_order_release);
    }
}

void RuleFilter::add(uint32_t hash) {
    const uint32_t word = hash & mask_;
    count_bit(word, hash >> 20 & 63, +1);
    count_bit(word, hash >> 26, +1);
}

void RuleFilter::remove(uint32_t hash) {
    const uint32_t word = hash & mask_;
    count_bit(word, hash >> 20 & 63, -1);
    count_bit(word, hash >> 26, -1);
}

}  // namespace appliance
