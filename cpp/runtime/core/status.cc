// Status formatting and error-code names (the Python side maps the same codes to classes).
#include "deployrt/deployrt.h"

namespace deployrt {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kIo: return "io error";
    case ErrorCode::kArchive: return "archive error";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInput: return "input error";
    case ErrorCode::kLimit: return "limit exceeded";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

}  // namespace deployrt
