#include "vrrp/vrrp_machine.h"

#include <algorithm>

namespace appliance {

const char* vrrp_state_name(VrrpState s) {
    switch (s) {
    case VrrpState::init: return "init";
    case VrrpState::backup: return "backup";
    case VrrpState::master: return "master";
    }
    return "?";
}

const char* vrrp_reason_name(VrrpReason r) {
    switch (r) {
    case VrrpReason::none: return "none";
    case VrrpReason::owner_startup: return "owner at startup";
    case VrrpReason::startup: return "startup";
    case VrrpReason::master_down: return "master down";
    case VrrpReason::preempt: return "preempted a lower-priority master";
    case VrrpReason::higher_priority: return "higher-priority master heard";
    case VrrpReason::link_down: return "link down";
    case VrrpReason::link_up: return "link up";
    case VrrpReason::removed: return "removed";
    case VrrpReason::tracking: return "tracked interface";
    }
    return "?";
}

uint32_t VrrpMachine::master_down_ms() const {
    return 3u * master_interval_cs_ * 10u + skew_ms();
}

uint64_t VrrpMachine::deadline() const {
    return state_ == VrrpState::master ? advert_at_
           : state_ == VrrpState::backup ? master_down_at_
                                         : ~0ull;
}

VrrpActions VrrpMachine::become_master(uint64_t now, VrrpReason why) {
    state_ = VrrpState::master;
    reason_ = why;
    advert_at_ = now + params_.interval_cs * 10u;
    master_down_at_ = ~0ull;
    preempt_at_ = 0;
    VrrpActions a;
    a.advertise = true;
    a.to_master = true;
    return a;
}

void VrrpMachine::become_backup(uint64_t now, VrrpReason why, uint16_t interval_cs) {
    state_ = VrrpState::backup;
    reason_ = why;
    master_interval_cs_ = interval_cs;
    advert_at_ = ~0ull;
    master_down_at_ = now + master_down_ms();
    preempt_at_ = 0;
}

// RFC 5798 6.4.1.
VrrpActions VrrpMachine::startup(uint64_t now, VrrpReason why) {
    if (state_ != VrrpState::init) return {};
    if (priority_ == 255) return become_master(now, why == VrrpReason::startup ? VrrpReason::owner_startup : why);
    become_backup(now, why, params_.interval_cs);
    return {};
}

VrrpActions VrrpMachine::shutdown(VrrpReason why) {
    VrrpActions a;
    if (state_ == VrrpState::master) {
        a.advertise_zero = true;
        a.from_master = true;
    }
    state_ = VrrpState::init;
    reason_ = why;
    advert_at_ = master_down_at_ = ~0ull;
    preempt_at_ = 0;
    return a;
}

VrrpActions VrrpMachine::tick(uint64_t now) {
    VrrpActions a;
    if (state_ == VrrpState::master && now >= advert_at_) {
        a.advertise = true;
        advert_at_ = now + params_.interval_cs * 10u;
    } else if (state_ == VrrpState::backup && now >= master_down_at_) {
        return become_master(now, preempt_at_ != 0 ? VrrpReason::preempt : VrrpReason::master_down);
    }
    return a;
}

// RFC 5798 6.4.2 (backup) and 6.4.3 (master).
VrrpActions VrrpMachine::advert(uint64_t now, uint8_t priority, uint16_t interval_cs, bool sender_higher) {
    VrrpActions a;
    if (state_ == VrrpState::backup) {
        if (priority == 0) {  // the master leaves: take over after our skew only
            master_down_at_ = now + skew_ms();
            return a;
        }
        // The owner always preempts (6.1); below it, only when configured to.
        const bool preempt = params_.preempt || priority_ == 255;
        if (!preempt || priority >= priority_) {
            become_backup(now, reason_, interval_cs);
            return a;
        }
        // A lower-priority master: let Master_Down_Interval run out (we take over
        // then), after the preempt delay, during which it stays master.
        if (preempt_at_ == 0) preempt_at_ = now + params_.preempt_delay_ms;
        if (now < preempt_at_) {
            master_interval_cs_ = interval_cs;
            master_down_at_ = now + master_down_ms();
        }
        return a;
    }
    if (state_ == VrrpState::master) {
        if (priority == 0) {  // a leaving master's farewell: show we are here at once
            a.advertise = true;
            advert_at_ = now + params_.interval_cs * 10u;
            return a;
        }
        if (priority > priority_ || (priority == priority_ && sender_higher)) {
            become_backup(now, VrrpReason::higher_priority, interval_cs);
            a.from_master = true;
        }
    }
    return a;
}

}  // namespace appliance
