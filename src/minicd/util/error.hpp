#pragma once

#include <string>
#include <string_view>

namespace minicd::util {

// What kind of failure happened; decides the exit code and whether a retry can help.
enum class ErrorCode {
    usage,       // the command line is wrong
    input,       // a file or value given by the user is wrong
    io,          // local file or system call failed
    subprocess,  // an external program failed or could not be started
    timeout,     // an operation ran out of time
    network,     // the connection failed before an HTTP status was received
    http,        // the server answered with an unexpected HTTP status
    api,         // the Kubernetes or registry API refused the request
    internal,    // a bug in minicd
};

std::string_view to_string(ErrorCode code);

// An expected failure, carried as a value. `subject` names what was involved
// (a file, an object such as "deploy/web (apps/v1 Deployment) in ns shop", a URL);
// empty when nothing in particular was.
struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;
    std::string subject;

    // "subject: message", or just the message when there is no subject.
    std::string describe() const;

    // A copy whose message is prefixed with what was being done, e.g. "reading config: ...".
    Error context(std::string_view doing) const;
};

Error make_error(ErrorCode code, std::string message, std::string subject = {});

}  // namespace minicd::util
