#include "minicd/health/health.hpp"

#include <algorithm>
#include <string>
#include <string_view>

namespace minicd::health {

namespace {

using model::Json;

// The value of label `key`, or nullptr when the label is absent (or, in a malformed object, not a string).
const std::string* label_value(const Json& labels, const std::string& key) {
    if (!labels.is_object()) {
        return nullptr;
    }
    auto it = labels.find(key);
    if (it == labels.end() || !it->is_string()) {
        return nullptr;
    }
    return it->get_ptr<const std::string*>();
}

bool values_contain(const Json& values, const std::string& value) {
    if (!values.is_array()) {
        return false;
    }
    return std::any_of(values.begin(), values.end(), [&](const Json& candidate) {
        return candidate.is_string() && candidate.get_ref<const std::string&>() == value;
    });
}

bool match_labels(const Json& match_labels, const Json& labels) {
    if (match_labels.is_null()) {
        return true;
    }
    if (!match_labels.is_object()) {
        return false;
    }
    for (const auto& [key, wanted] : match_labels.items()) {
        const std::string* value = label_value(labels, key);
        if (value == nullptr || !wanted.is_string() || *value != wanted.get_ref<const std::string&>()) {
            return false;
        }
    }
    return true;
}

// One LabelSelectorRequirement. NotIn and DoesNotExist match objects without the label, as in Kubernetes.
bool match_expression(const Json& requirement, const Json& labels) {
    if (!requirement.is_object()) {
        return false;
    }
    auto key_it = requirement.find("key");
    auto operator_it = requirement.find("operator");
    if (key_it == requirement.end() || !key_it->is_string() || operator_it == requirement.end() ||
        !operator_it->is_string()) {
        return false;
    }
    const std::string* value = label_value(labels, key_it->get_ref<const std::string&>());
    const std::string& op = operator_it->get_ref<const std::string&>();
    static const Json k_no_values = Json::array();
    auto values_it = requirement.find("values");
    const Json& values = values_it == requirement.end() ? k_no_values : *values_it;

    if (op == "In") return value != nullptr && values_contain(values, *value);
    if (op == "NotIn") return value == nullptr || !values_contain(values, *value);
    if (op == "Exists") return value != nullptr;
    if (op == "DoesNotExist") return value == nullptr;
    // Gt/Lt belong to node selectors, not label selectors; an operator we do not know selects nothing,
    // because selecting too much is the dangerous mistake.
    return false;
}

}  // namespace

bool selector_matches(const Json& selector, const Json& labels) {
    if (!selector.is_object()) {
        return false;
    }
    for (auto field = selector.begin(); field != selector.end(); ++field) {
        // A map-style selector ({"app": "web"}, as in Service.spec.selector) passed here by mistake would
        // otherwise be read as "no requirements" and match every pod.
        if (field.key() != "matchLabels" && field.key() != "matchExpressions") {
            return false;
        }
    }
    auto labels_it = selector.find("matchLabels");
    if (labels_it != selector.end() && !match_labels(*labels_it, labels)) {
        return false;
    }
    auto expressions = selector.find("matchExpressions");
    if (expressions == selector.end() || expressions->is_null()) {
        return true;
    }
    if (!expressions->is_array()) {
        return false;
    }
    return std::all_of(expressions->begin(), expressions->end(),
                       [&](const Json& requirement) { return match_expression(requirement, labels); });
}

}  // namespace minicd::health
