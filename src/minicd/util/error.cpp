#include "minicd/util/error.hpp"

namespace minicd::util {

std::string_view to_string(ErrorCode code) {
    switch (code) {
    case ErrorCode::usage: return "usage";
    case ErrorCode::input: return "input";
    case ErrorCode::io: return "io";
    case ErrorCode::subprocess: return "subprocess";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::network: return "network";
    case ErrorCode::http: return "http";
    case ErrorCode::api: return "api";
    case ErrorCode::internal: return "internal";
    }
    return "unknown";
}

std::string Error::describe() const {
    if (subject.empty()) return message;
    return subject + ": " + message;
}

Error Error::context(std::string_view doing) const {
    Error copy = *this;
    copy.message = std::string(doing) + ": " + message;
    return copy;
}

Error make_error(ErrorCode code, std::string message, std::string subject) {
    return Error{code, std::move(message), std::move(subject)};
}

}  // namespace minicd::util
