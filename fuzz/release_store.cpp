// Feeds bytes to deploy::parse_inventory and deploy::parse_releases as the text of an inventory or
// release history ConfigMap's data (which anyone allowed to edit ConfigMaps can change), and what
// they read to model::hold_on and model::still_held. Checks that what is read is written back to
// text that reads back the same.

#include <algorithm>

#include "fuzz_support.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/model/release.hpp"

namespace {

using minicd::fuzz::require;

void check_inventory(std::string_view text) {
    auto objects = minicd::deploy::parse_inventory(text);
    if (!objects) return;
    require(std::is_sorted(objects->begin(), objects->end()), "an inventory is read sorted");
    const std::string written = minicd::deploy::inventory_text(*objects);
    auto again = minicd::deploy::parse_inventory(written);
    require(again.has_value(), "a written inventory reads back");
    auto unique = *objects;
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    require(*again == unique, "a written inventory reads back the same, duplicates dropped");
    require(minicd::deploy::inventory_text(*again) == written, "an inventory's text is stable");
}

void check_releases(std::string_view text) {
    auto releases = minicd::deploy::parse_releases(text);
    if (!releases) return;
    auto again = minicd::deploy::parse_releases(minicd::deploy::releases_text(*releases));
    require(again.has_value(), "a written history reads back");
    require(*again == *releases, "a written history reads back the same");
    for (const auto& release : *releases) {
        minicd::model::still_held(*releases, release);
        std::vector<std::string> digests;
        for (const auto& [image, reference] : release.images) digests.push_back(reference);
        minicd::model::hold_on(*releases, release.git_sha, digests);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = minicd::fuzz::as_text(data, size);
    check_inventory(text);
    check_releases(text);
    return 0;
}
