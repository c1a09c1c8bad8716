#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/object.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::render {

// An image that was built and pushed, as the build artifact file records it.
struct ImagePin {
    std::string image_name;  // the name manifests use ("shop", or a full "reg.example/apps/shop")
    std::string reference;   // what was pushed, with its tag: "127.0.0.1:5000/apps/shop:abc1234"
    std::string digest;      // "sha256:..."
};

// Where a custom resource keeps image references, written "<Kind>[.<group>]:<path>", e.g.
// "Rollout.argoproj.io:spec.template.spec.containers[].image" or "Function:spec.runtime.image".
// The path is field names joined by '.'; "name[]" walks every item of the list at "name", and a
// segment "*" every item of a list or every value of a map ("spec.images.*"). Field names that
// contain '.', '[' or ':' cannot be written. Without a group the kind matches in any group.
struct ImagePath {
    std::string kind;
    std::string group;  // "" = any group
    struct Segment {
        std::string field;  // "" for "*"
        bool each = false;  // "field[]" or "*"
    };
    std::vector<Segment> segments;
    std::string text;  // as written, for messages
};

Result<ImagePath> parse_image_path(std::string_view text);

struct ImagePinning {
    std::vector<ImagePin> images;
    // Image names the configuration declares; each should appear in some manifest. Every built
    // image's name counts as declared too.
    std::vector<std::string> declared;
    std::vector<ImagePath> custom_paths;
};

// One image reference that was rewritten.
struct ImageReplacement {
    model::ObjectId object;
    std::string path;  // "spec.template.spec.containers[0].image"
    std::string from;
    std::string to;
};

struct PinResult {
    std::vector<ImageReplacement> replacements;
    std::vector<std::string> warnings;  // declared images no manifest uses
};

// Rewrites image references to "<reference>@<digest>" of the built image they name: in the pod
// templates of Pod, PodTemplate, Deployment, StatefulSet, DaemonSet, ReplicaSet,
// ReplicationController, Job and CronJob (containers, initContainers, ephemeralContainers), and
// at the configured custom paths. A manifest image names a built image when its repository (the
// text without tag and digest, as written or with docker.io/library/ defaults applied) equals the
// built image's name or its reference's repository. A manifest image that names a declared image
// that was not built is an input error naming file:line, object and path. Pure: no I/O.
Result<PinResult> pin_images(std::vector<source::Manifest>& manifests, const ImagePinning& pinning);

// The images the manifests already pin by digest, in the places pin_images looks: the name as
// written without tag and digest -> the whole reference. References without a digest are left
// out (a tag says nothing about the bytes that ran). Pure: no I/O.
std::map<std::string, std::string> digest_pinned_images(const std::vector<source::Manifest>& manifests,
                                                        const std::vector<ImagePath>& custom_paths = {});

}  // namespace minicd::render
