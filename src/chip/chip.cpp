#include "chip/chip.hpp"

#include <utility>

namespace mcuemu::chip {

Chip::Chip(int id, Profile profile)
    : id_(id), cost_(std::move(profile)), memory_(cost_.profile(), id), ledger_(cost_.profile()) {}

}  // namespace mcuemu::chip
