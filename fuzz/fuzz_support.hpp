#pragma once

// What the fuzz targets share: the input as text, a scratch folder for readers that only take a
// file, and a way to report a broken property as a crash that libFuzzer keeps.

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace minicd::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Stops the run on a property the code under test promised and broke: libFuzzer saves the input.
[[noreturn]] inline void violated(const char* property) {
    std::fprintf(stderr, "fuzz: property violated: %s\n", property);
    std::fflush(stderr);
    std::abort();
}

inline void require(bool holds, const char* property) {
    if (!holds) violated(property);
}

// A folder of this process under the temporary folder, removed at exit (a crash leaves it behind,
// with the file that caused it).
class ScratchDir {
public:
    static ScratchDir& get() {
        static ScratchDir dir;
        return dir;
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::filesystem::path& path() const { return m_path; }

    // Replaces `name` with `text` and returns its full path.
    std::string write(std::string_view name, std::string_view text) const {
        std::filesystem::path target = m_path / name;
        std::ofstream out(target, std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.close();
        if (!out) violated("the scratch folder is writable");
        return target.string();
    }

private:
    ScratchDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "minicd-fuzz-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) violated("a scratch folder can be made");
        m_path = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }

    std::filesystem::path m_path;
};

}  // namespace minicd::fuzz
