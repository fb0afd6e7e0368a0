// Switches read from the environment (MCUEMU_*), for comparing a fast path with the plain one.
#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mcuemu::runtime {

// Unset, empty or "on": true; "off": false; any other value is an error
// (std::invalid_argument naming the variable and the value).
inline bool on_off_from_env(const char *name) {
  const char *v = std::getenv(name);
  if (!v || !*v || std::string_view(v) == "on") return true;
  if (std::string_view(v) == "off") return false;
  throw std::invalid_argument(fmt::format("{}={}: expected on or off", name, std::string(v)));
}

}  // namespace mcuemu::runtime
