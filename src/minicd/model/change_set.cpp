#include "minicd/model/change_set.hpp"

namespace minicd::model {

std::string_view to_string(Action action) {
    switch (action) {
    case Action::created: return "created";
    case Action::configured: return "configured";
    case Action::unchanged: return "unchanged";
    case Action::adopted: return "adopted";
    case Action::recreated: return "recreated";
    case Action::pruned: return "pruned";
    case Action::kept: return "kept";
    case Action::refused: return "refused";
    case Action::failed: return "failed";
    }
    return "unknown";
}

std::string_view to_string(Phase phase) {
    switch (phase) {
    case Phase::pre: return "pre";
    case Phase::main: return "main";
    case Phase::post: return "post";
    }
    return "main";
}

}  // namespace minicd::model
