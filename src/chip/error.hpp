// ChipError: the one exception type of src/chip.
//
// Every failure of the chip model (a bad hardware profile, an allocation that does not fit, a shape
// that cannot be tiled) throws a ChipError whose what() is a single line that says exactly what
// went wrong and where: the file, line and key for a profile; the chip, level, need, cap and the
// largest consumers for memory.
#pragma once

#include <stdexcept>
#include <string>

namespace mcuemu::chip {

class ChipError : public std::runtime_error {
 public:
  explicit ChipError(const std::string &message) : std::runtime_error(message) {}
};

}  // namespace mcuemu::chip
