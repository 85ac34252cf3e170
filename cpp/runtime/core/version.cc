#include "deployrt/deployrt.h"

namespace deployrt {

const char* version() { return "0.1.0"; }

}  // namespace deployrt
