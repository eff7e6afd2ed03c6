// The state machine of one VRRPv3 virtual router (RFC 5798 6.4), apart from
// packets and tables: events go in with the time, what to do comes out. The
// slow path (slowpath/vrrp.cpp) sends what it says and moves the addresses.
#pragma once

#include <cstdint>

namespace appliance {

enum class VrrpState : uint8_t { init, backup, master };
const char* vrrp_state_name(VrrpState s);

// Why the last transition happened (the log and the API say it in words).
enum class VrrpReason : uint8_t {
    none,
    owner_startup,    // priority 255: the addresses are ours, master at once
    startup,          // a backup first, until a master is heard or not
    master_down,      // no advertisement for Master_Down_Interval
    preempt,          // (master_down after refusing a lower-priority master)
    higher_priority,  // a master advertised a higher priority (or the same, from a higher address)
    link_down,        // the interface's link went down
    link_up,
    removed,          // taken out of the configuration, or the appliance stopping
    tracking,         // a tracked interface's link changed the priority (no transition)
};
const char* vrrp_reason_name(VrrpReason r);

struct VrrpParams {
    uint8_t priority = 100;   // 1..255; 255: the owner of the addresses
    uint16_t interval_cs = 100;  // Advertisement_Interval, centiseconds (1..4095)
    bool preempt = true;
    uint32_t preempt_delay_ms = 0;  // a lower-priority master is kept this long first
};

// What the caller must do after an event, in this order.
struct VrrpActions {
    bool advertise = false;       // an advertisement at the current priority
    bool advertise_zero = false;  // one with priority 0: "I am leaving, take over now"
    bool to_master = false;       // take the addresses: vMAC, routes, gratuitous ARP / NA
    bool from_master = false;     // give them back
};

class VrrpMachine {
public:
    void configure(const VrrpParams& p) { params_ = p; }
    // The priority advertised and compared: the configured one less what tracked
    // interfaces take off (>= 1), 255 only for the owner.
    void set_priority(uint8_t effective) { priority_ = effective; }

    VrrpActions startup(uint64_t now, VrrpReason why);
    VrrpActions shutdown(VrrpReason why);
    // An advertisement for this virtual router; `sender_higher`: its source address is
    // above our own primary address (the tie-break of equal priorities).
    VrrpActions advert(uint64_t now, uint8_t priority, uint16_t interval_cs, bool sender_higher);
    VrrpActions tick(uint64_t now);  // timers
    uint64_t deadline() const;       // when tick() has something to do (~0: never)

    VrrpState state() const { return state_; }
    VrrpReason reason() const { return reason_; }
    uint8_t priority() const { return priority_; }
    uint16_t master_interval_cs() const { return master_interval_cs_; }
    uint32_t master_down_ms() const;
    const VrrpParams& params() const { return params_; }

private:
    uint32_t skew_ms() const { return uint32_t((256 - priority_) * master_interval_cs_ * 10u / 256); }
    VrrpActions become_master(uint64_t now, VrrpReason why);
    void become_backup(uint64_t now, VrrpReason why, uint16_t interval_cs);

    VrrpParams params_;
    uint8_t priority_ = 100;
    VrrpState state_ = VrrpState::init;
    VrrpReason reason_ = VrrpReason::none;
    uint16_t master_interval_cs_ = 100;
    uint64_t advert_at_ = ~0ull;       // master: the next advertisement
    uint64_t master_down_at_ = ~0ull;  // backup: no master by then, we are it
    uint64_t preempt_at_ = 0;          // backup: when a lower master heard since 0 may be preempted
};

}  // namespace appliance
