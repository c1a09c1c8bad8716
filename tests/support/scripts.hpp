#pragma once

// Executable shell scripts written by tests, standing in for programs minicd finds in PATH.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace minicd::testing {

// Writes `body` after a /bin/sh shebang to dir/name and makes it executable; returns the path.
inline std::string write_script(const std::string& dir, const std::string& name, const std::string& body) {
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
}

}  // namespace minicd::testing
