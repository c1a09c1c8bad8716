#include "minicd/source/git.hpp"

#include <git2.h>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>

namespace minicd::source {

namespace {

// libgit2 keeps global state (allocators, TLS); it is set up once per process and never torn
// down, since other threads may still hold repositories at exit.
void init_libgit2() {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

// Owning pointers for the libgit2 handles used here; each frees with its own function.
template <typename T, void (*Free)(T*)>
struct Freer {
    void operator()(T* handle) const { Free(handle); }
};
template <typename T, void (*Free)(T*)>
using Handle = std::unique_ptr<T, Freer<T, Free>>;

using ReferencePtr = Handle<git_reference, git_reference_free>;
using ObjectPtr = Handle<git_object, git_object_free>;
using ReferenceIteratorPtr = Handle<git_reference_iterator, git_reference_iterator_free>;
using BranchIteratorPtr = Handle<git_branch_iterator, git_branch_iterator_free>;
using StatusListPtr = Handle<git_status_list, git_status_list_free>;
using ConfigPtr = Handle<git_config, git_config_free>;

std::string last_git_message(int code) {
    const git_error* error = git_error_last();
    if (error != nullptr && error->message != nullptr) return error->message;
    return fmt::format("libgit2 error {}", code);
}

std::string oid_hex(const git_oid& oid) {
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof hex, &oid);
    return hex;
}

std::string without_trailing_slash(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

constexpr std::string_view k_heads_prefix = "refs/heads/";
constexpr std::string_view k_tags_prefix = "refs/tags/";

}  // namespace

std::string WorkTreeState::describe() const {
    if (!dirty()) return "clean";
    std::vector<std::string> parts;
    if (staged > 0) parts.push_back(fmt::format("{} staged", staged));
    if (modified > 0) parts.push_back(fmt::format("{} modified", modified));
    if (untracked > 0) parts.push_back(fmt::format("{} untracked", untracked));
    std::string text = fmt::format("{}", fmt::join(parts, ", "));
    if (!examples.empty()) text += fmt::format(" ({})", fmt::join(examples, ", "));
    return text;
}

void Repository::Deleter::operator()(git_repository* repository) const { git_repository_free(repository); }

Repository::Repository(git_repository* repository, std::string path)
    : m_repository(repository), m_path(std::move(path)) {}
Repository::Repository(Repository&&) noexcept = default;
Repository& Repository::operator=(Repository&&) noexcept = default;
Repository::~Repository() = default;

Result<Repository> Repository::open(const std::string& directory) {
    init_libgit2();
    git_repository* raw = nullptr;
    int code = git_repository_open_ext(&raw, directory.c_str(), 0, nullptr);
    if (code == GIT_ENOTFOUND) {
        return fail(util::ErrorCode::input, "not inside a Git repository (or any parent directory)", directory);
    }
    if (code < 0) {
        return fail(util::ErrorCode::io, fmt::format("cannot open the Git repository: {}", last_git_message(code)),
                    directory);
    }
    const char* workdir = git_repository_workdir(raw);
    std::string path = without_trailing_slash(workdir != nullptr ? workdir : git_repository_path(raw));
    return Repository(raw, std::move(path));
}

std::optional<std::string> Repository::relative_path(const std::string& path) const {
    std::error_code error;
    const std::filesystem::path full = std::filesystem::weakly_canonical(std::filesystem::absolute(path), error);
    if (error) return std::nullopt;
    const std::filesystem::path relative = full.lexically_relative(m_path);
    if (relative.empty() || *relative.begin() == "..") return std::nullopt;
    return relative.generic_string();
}

util::Error Repository::git_error(int code, std::string_view doing) const {
    // Names that do not resolve are the caller's input; anything else is the repository failing us.
    bool input = code == GIT_ENOTFOUND || code == GIT_EINVALIDSPEC || code == GIT_EAMBIGUOUS;
    return util::make_error(input ? util::ErrorCode::input : util::ErrorCode::io,
                            fmt::format("{}: {}", doing, last_git_message(code)), m_path);
}

Result<std::string> Repository::head_commit() {
    if (git_repository_head_unborn(m_repository.get()) == 1) {
        return fail(util::ErrorCode::input, "HEAD has no commit yet", m_path);
    }
    git_oid oid;
    if (int code = git_reference_name_to_id(&oid, m_repository.get(), "HEAD"); code < 0) {
        return fail(git_error(code, "resolving HEAD"));
    }
    return oid_hex(oid);
}

Result<std::string> Repository::short_head_commit(std::size_t length) {
    if (length < 4 || length > GIT_OID_HEXSZ) {
        return fail(util::ErrorCode::input, fmt::format("short commit length must be 4..{}, not {}", GIT_OID_HEXSZ, length));
    }
    auto full = head_commit();
    if (!full) return full;
    return full->substr(0, length);
}

Result<HeadBranch> Repository::head_branch() {
    HeadBranch head;
    int detached = git_repository_head_detached(m_repository.get());
    if (detached < 0) return fail(git_error(detached, "reading HEAD"));
    if (detached == 1) {
        head.detached = true;
        return head;
    }
    // Look at HEAD itself rather than resolving it, so an unborn branch still has a name.
    git_reference* raw = nullptr;
    if (int code = git_reference_lookup(&raw, m_repository.get(), "HEAD"); code < 0) {
        return fail(git_error(code, "reading HEAD"));
    }
    ReferencePtr reference(raw);
    const char* target = git_reference_symbolic_target(reference.get());
    std::string_view name = target != nullptr ? target : "";
    if (name.starts_with(k_heads_prefix)) name.remove_prefix(k_heads_prefix.size());
    head.name = name;
    head.unborn = git_repository_head_unborn(m_repository.get()) == 1;
    return head;
}

Result<std::vector<std::string>> Repository::tags_at_head() {
    auto head = head_commit();
    if (!head) return fail(head.error());
    git_reference_iterator* raw_iterator = nullptr;
    if (int code = git_reference_iterator_glob_new(&raw_iterator, m_repository.get(), "refs/tags/*"); code < 0) {
        return fail(git_error(code, "listing tags"));
    }
    ReferenceIteratorPtr iterator(raw_iterator);
    std::vector<std::string> tags;
    for (;;) {
        git_reference* raw = nullptr;
        int code = git_reference_next(&raw, iterator.get());
        if (code == GIT_ITEROVER) break;
        if (code < 0) return fail(git_error(code, "listing tags"));
        ReferencePtr reference(raw);
        git_object* peeled_raw = nullptr;
        // Tags of trees or blobs cannot point at HEAD; skip them rather than fail.
        if (git_reference_peel(&peeled_raw, reference.get(), GIT_OBJECT_COMMIT) < 0) continue;
        ObjectPtr peeled(peeled_raw);
        if (oid_hex(*git_object_id(peeled.get())) != *head) continue;
        std::string_view name = git_reference_name(reference.get());
        name.remove_prefix(k_tags_prefix.size());
        tags.emplace_back(name);
    }
    std::sort(tags.begin(), tags.end());
    return tags;
}

Result<std::string> Repository::resolve_commit(std::string_view revision) {
    const std::string spec(revision);
    git_object* raw = nullptr;
    if (int code = git_revparse_single(&raw, m_repository.get(), spec.c_str()); code < 0) {
        return fail(git_error(code, fmt::format("resolving {:?}", spec)));
    }
    ObjectPtr object(raw);
    git_object* commit_raw = nullptr;
    if (int code = git_object_peel(&commit_raw, object.get(), GIT_OBJECT_COMMIT); code < 0) {
        return fail(git_error(code, fmt::format("{:?} does not name a commit", spec)));
    }
    ObjectPtr commit(commit_raw);
    return oid_hex(*git_object_id(commit.get()));
}

Result<bool> Repository::is_reachable(std::string_view commit, std::string_view ref) {
    auto commit_sha = resolve_commit(commit);
    if (!commit_sha) return fail(commit_sha.error());
    auto ref_sha = resolve_commit(ref);
    if (!ref_sha) return fail(ref_sha.error());
    if (*commit_sha == *ref_sha) return true;
    git_oid commit_oid;
    git_oid ref_oid;
    git_oid_fromstr(&commit_oid, commit_sha->c_str());
    git_oid_fromstr(&ref_oid, ref_sha->c_str());
    int code = git_graph_descendant_of(m_repository.get(), &ref_oid, &commit_oid);
    if (code < 0) return fail(git_error(code, fmt::format("walking history from {:?}", std::string(ref))));
    return code == 1;
}

Result<WorkTreeState> Repository::work_tree_state(std::size_t max_examples, const std::vector<std::string>& skip) {
    if (git_repository_is_bare(m_repository.get()) == 1) {
        return fail(util::ErrorCode::input, "a bare repository has no work tree", m_path);
    }
    git_status_options options;
    git_status_options_init(&options, GIT_STATUS_OPTIONS_VERSION);
    options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    // An untracked directory counts once, as `git status` shows it, so a big one stays cheap; with
    // paths to skip its files are listed one by one, so a skipped file alone does not count.
    options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED;
    if (!skip.empty()) options.flags |= GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
    git_status_list* raw = nullptr;
    if (int code = git_status_list_new(&raw, m_repository.get(), &options); code < 0) {
        return fail(git_error(code, "reading the work tree status"));
    }
    StatusListPtr list(raw);

    constexpr unsigned k_staged = GIT_STATUS_INDEX_NEW | GIT_STATUS_INDEX_MODIFIED | GIT_STATUS_INDEX_DELETED |
                                  GIT_STATUS_INDEX_RENAMED | GIT_STATUS_INDEX_TYPECHANGE;
    constexpr unsigned k_modified = GIT_STATUS_WT_MODIFIED | GIT_STATUS_WT_DELETED | GIT_STATUS_WT_TYPECHANGE |
                                    GIT_STATUS_WT_RENAMED | GIT_STATUS_CONFLICTED;
    WorkTreeState state;
    const std::size_t count = git_status_list_entrycount(list.get());
    for (std::size_t i = 0; i < count; ++i) {
        const git_status_entry* entry = git_status_byindex(list.get(), i);
        if (entry == nullptr) continue;
        const git_diff_delta* delta = entry->index_to_workdir != nullptr ? entry->index_to_workdir : entry->head_to_index;
        const char* path = delta != nullptr ? delta->new_file.path : nullptr;
        if (path != nullptr && std::find(skip.begin(), skip.end(), path) != skip.end()) continue;
        const unsigned flags = entry->status;
        const bool staged = (flags & k_staged) != 0;
        const bool modified = (flags & k_modified) != 0;
        const bool untracked = (flags & GIT_STATUS_WT_NEW) != 0;
        state.staged += staged ? 1 : 0;
        state.modified += modified ? 1 : 0;
        state.untracked += untracked ? 1 : 0;
        if (!(staged || modified || untracked) || state.examples.size() >= max_examples) continue;
        if (path != nullptr) state.examples.emplace_back(path);
    }
    return state;
}

Result<std::vector<std::string>> Repository::remote_branches(std::string_view remote) {
    git_branch_iterator* raw_iterator = nullptr;
    if (int code = git_branch_iterator_new(&raw_iterator, m_repository.get(), GIT_BRANCH_REMOTE); code < 0) {
        return fail(git_error(code, "listing remote branches"));
    }
    BranchIteratorPtr iterator(raw_iterator);
    const std::string prefix = fmt::format("refs/remotes/{}/", remote);
    std::vector<std::string> branches;
    for (;;) {
        git_reference* raw = nullptr;
        git_branch_t type{};
        int code = git_branch_next(&raw, &type, iterator.get());
        if (code == GIT_ITEROVER) break;
        if (code < 0) return fail(git_error(code, "listing remote branches"));
        ReferencePtr reference(raw);
        // refs/remotes/origin/HEAD only says which branch the remote calls its default.
        if (git_reference_type(reference.get()) == GIT_REFERENCE_SYMBOLIC) continue;
        std::string_view name = git_reference_name(reference.get());
        if (!name.starts_with(prefix)) continue;
        name.remove_prefix(prefix.size());
        if (name == "HEAD") continue;
        branches.emplace_back(name);
    }
    std::sort(branches.begin(), branches.end());
    return branches;
}

Result<bool> Repository::tracks_every_branch(std::string_view remote) {
    if (git_repository_is_shallow(m_repository.get()) == 1) return false;
    // Read from the configuration rather than through git_remote_lookup, whose pattern matching
    // leaks in the libgit2 this is built with.
    git_config* raw = nullptr;
    if (int code = git_repository_config_snapshot(&raw, m_repository.get()); code < 0) {
        return fail(git_error(code, "reading the repository configuration"));
    }
    ConfigPtr config(raw);
    struct Refspecs {
        std::string every_branch;  // "refs/heads/*:refs/remotes/origin/*", as `git clone` and `git remote add` write it
        bool found = false;
    } refspecs{fmt::format("refs/heads/*:refs/remotes/{}/*", remote)};
    const std::string key = fmt::format("remote.{}.fetch", remote);
    auto each = [](const git_config_entry* entry, void* payload) -> int {
        auto& wanted = *static_cast<Refspecs*>(payload);
        std::string_view refspec = entry->value;
        if (refspec.starts_with('+')) refspec.remove_prefix(1);
        if (refspec == wanted.every_branch) wanted.found = true;
        return 0;
    };
    int code = git_config_get_multivar_foreach(config.get(), key.c_str(), nullptr, each, &refspecs);
    if (code == GIT_ENOTFOUND) {
        return fail(util::ErrorCode::input, fmt::format("no remote {} with a fetch refspec ({} is not set)", remote, key), m_path);
    }
    if (code < 0) return fail(git_error(code, "reading " + key));
    return refspecs.found;
}

}  // namespace minicd::source
