// Feeds bytes to kube::load_rest_config as the text of the one kubeconfig file named by
// --kubeconfig (YAML or JSON), written to a scratch file since the loader reads files. Checks that
// errors are input errors that never quote a token, password or key, and that a loaded
// configuration has a server.

#include "fuzz_support.hpp"
#include "minicd/kube/kubeconfig.hpp"
#include "minicd/model/credential_json.hpp"
#include "minicd/source/yaml.hpp"
#include "secrets.hpp"

namespace {

using minicd::fuzz::require;
using minicd::model::Json;

// The document as the loader sees it, to learn its secrets; null when it does not parse.
Json document_of(std::string_view text) {
    if (auto json = minicd::model::parse_credential_json(text)) return *json;
    auto yaml = minicd::source::parse_yaml(text, "kubeconfig");
    if (!yaml || yaml->size() != 1) return nullptr;
    return yaml->front().value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = minicd::fuzz::as_text(data, size);
    const std::string path = minicd::fuzz::ScratchDir::get().write("kubeconfig", text);
    auto config = minicd::kube::load_rest_config({.path = path, .context = {}});
    if (config) {
        require(!config->server.empty(), "a loaded configuration has a server");
        return 0;
    }
    require(config.error().code == minicd::util::ErrorCode::input, "a bad kubeconfig is an input error");
    const minicd::fuzz::SecretScan scan(document_of(text),
                                        {"token", "password", "client-key-data", "client-certificate-data"});
    scan.check(config.error().describe(), path);
    return 0;
}
