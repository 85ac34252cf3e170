// Builds error messages from mixed pieces: str_cat("tensor ", 3, " '", name, "'").
#pragma once

#include <sstream>
#include <string>
#include <utility>

namespace deployrt {

template <class... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

}  // namespace deployrt
