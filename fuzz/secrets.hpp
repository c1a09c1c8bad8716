#pragma once

// The promise of the credential readers that their errors never quote a secret, as a check: the
// secrets of a document are the string values of the fields named, and an error may not hold one
// unless the document also has it somewhere that may be quoted (a key, a name, another field).

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "minicd/model/object.hpp"

namespace minicd::fuzz {

class SecretScan {
public:
    // Long enough that an error's fixed words cannot hold it by chance.
    static constexpr std::size_t k_min_length = 16;

    SecretScan(const model::Json& document, std::set<std::string, std::less<>> secret_fields)
        : m_secret_fields(std::move(secret_fields)) {
        walk(document, false);
    }

    // Aborts when `message` holds a secret that appears nowhere else.
    void check(std::string_view message, std::string_view place) const {
        for (const std::string& secret : m_secrets) {
            if (secret.size() < k_min_length || place.find(secret) != std::string_view::npos) continue;
            bool elsewhere = false;
            for (const std::string& other : m_others) {
                if (other.find(secret) != std::string::npos) elsewhere = true;
            }
            if (!elsewhere) require(message.find(secret) == std::string_view::npos, "an error never quotes a secret");
        }
    }

private:
    void walk(const model::Json& node, bool secret) {
        if (node.is_string()) {
            (secret ? m_secrets : m_others).push_back(node.get<std::string>());
        } else if (node.is_object()) {
            for (auto it = node.begin(); it != node.end(); ++it) {
                m_others.push_back(it.key());
                walk(*it, m_secret_fields.contains(it.key()));
            }
        } else if (node.is_array()) {
            for (const auto& item : node) walk(item, false);
        }
    }

    std::set<std::string, std::less<>> m_secret_fields;
    std::vector<std::string> m_secrets;
    std::vector<std::string> m_others;
};

}  // namespace minicd::fuzz
