#pragma once

// Running the minicd binary in end-to-end suites and reading what it printed.

#include <gtest/gtest.h>

#include <string>

#include "minicd/util/result.hpp"
#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {

// One run of the minicd binary.
struct Invocation {
    int exit_code = -1;
    std::string out;
    std::string err;
    bool is_json = false;        // stdout was one JSON object
    Json json = Json::object();  // that object; empty otherwise

    std::string all() const { return "stdout:\n" + out + "\nstderr:\n" + err; }
};

// What a run of a program gave; a failure to run it at all fails the test.
inline Invocation invocation_of(const Result<util::SubprocessResult>& result) {
    Invocation run;
    if (!result) {
        ADD_FAILURE() << result.error().describe();
        return run;
    }
    run.exit_code = result->exit_code;
    run.out = result->out;
    run.err = result->err;
    Json parsed = Json::parse(run.out, nullptr, false);
    run.is_json = parsed.is_object();
    if (run.is_json) run.json = std::move(parsed);
    return run;
}

// The value at `pointer` (e.g. "/spec/replicas"); null when any step of the way is missing.
inline Json pick(const Json& json, const std::string& pointer) {
    const Json::json_pointer at(pointer);
    return json.contains(at) ? json.at(at) : Json();
}
inline int pick_int(const Json& json, const std::string& pointer, int otherwise = -1) {
    const Json found = pick(json, pointer);
    return found.is_number_integer() ? found.get<int>() : otherwise;
}
// The string at `pointer`; anything else comes back as "(<its JSON>)", so a failed check shows it.
inline std::string pick_text(const Json& json, const std::string& pointer) {
    const Json found = pick(json, pointer);
    return found.is_string() ? found.get<std::string>() : "(" + found.dump() + ")";
}

}  // namespace minicd::e2e
