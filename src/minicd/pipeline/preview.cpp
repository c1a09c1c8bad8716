#include "minicd/pipeline/preview.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "minicd/kube/exec_plugin.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/pipeline/naming.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/log.hpp"

namespace minicd::pipeline {

namespace {

constexpr std::string_view k_preview_value = "true";
constexpr std::chrono::milliseconds k_poll_interval{500};

using model::string_at;

std::map<std::string, std::string> string_map_at(const model::Json& object, model::JsonPath path) {
    std::map<std::string, std::string> result;
    const model::Json* map = model::object_at(object, path);
    if (map == nullptr) return result;
    for (const auto& [key, value] : map->items()) {
        if (value.is_string()) result.emplace(key, value.get<std::string>());
    }
    return result;
}

std::string namespace_path(std::string_view name) { return fmt::format("/api/v1/namespaces/{}", name); }

std::string subject_of(std::string_view name) { return fmt::format("namespace {}", name); }

// "Type: message" of the namespace conditions that hold, or "Terminating".
std::string why_still_there(const model::Json& object) {
    std::vector<std::string> reasons;
    if (const model::Json* conditions = model::array_at(object, {"status", "conditions"})) {
        for (const auto& condition : *conditions) {
            if (string_at(condition, {"status"}) != "True") continue;
            const std::string type = string_at(condition, {"type"});
            reasons.push_back(fmt::format("{}: {}", type.empty() ? "?" : type, string_at(condition, {"message"})));
        }
    }
    return reasons.empty() ? std::string("Terminating") : fmt::format("{}", fmt::join(reasons, "; "));
}

Result<PortForward> port_forward_for(const PortForwardRequest& request, const model::Json& service) {
    const std::string name = string_at(service, {"metadata", "name"});
    std::string ports = request.ports;
    if (ports.empty()) {
        const model::Json::json_pointer at("/spec/ports/0/port");
        if (!service.contains(at) || !service.at(at).is_number_integer()) {
            return fail(util::ErrorCode::input, "the Service has no ports to forward", fmt::format("svc/{}", name));
        }
        ports = std::to_string(service.at(at).get<long>());
    }
    return PortForward{.service = name, .ports = ports, .argv = port_forward_argv(request, name, ports)};
}

bool is_port_spec(std::string_view ports) {
    const std::size_t colon = ports.find(':');
    const auto digits = [](std::string_view part) {
        return part.size() <= 5 && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (colon == std::string_view::npos) return !ports.empty() && digits(ports);
    // An empty local side lets kubectl pick a free port (":80").
    return digits(ports.substr(0, colon)) && !ports.substr(colon + 1).empty() && digits(ports.substr(colon + 1));
}

}  // namespace

std::string PreviewOwner::label_selector() const {
    return fmt::format("{}={},{}={},{}={},{}={}", render::k_managed_by_label, render::k_managed_by_value, render::k_app_label,
                       app, render::k_env_label, env, render::k_preview_label, k_preview_value);
}

std::string PreviewNamespace::branch() const {
    auto found = annotations.find(std::string(render::k_branch_annotation));
    return found == annotations.end() ? std::string() : found->second;
}

std::string PreviewNamespace::last_deployed_text() const {
    auto found = annotations.find(std::string(render::k_last_deployed_annotation));
    return found == annotations.end() ? std::string() : found->second;
}

std::optional<Clock::time_point> PreviewNamespace::last_deployed() const {
    const std::string text = last_deployed_text();
    if (text.empty()) return std::nullopt;
    return kube::parse_rfc3339(text);
}

PreviewNamespace preview_namespace_from_json(const model::Json& object) {
    PreviewNamespace ns;
    ns.name = string_at(object, {"metadata", "name"});
    ns.uid = string_at(object, {"metadata", "uid"});
    ns.resource_version = string_at(object, {"metadata", "resourceVersion"});
    ns.labels = string_map_at(object, {"metadata", "labels"});
    ns.annotations = string_map_at(object, {"metadata", "annotations"});
    const std::string created = string_at(object, {"metadata", "creationTimestamp"});
    if (!created.empty()) ns.created = kube::parse_rfc3339(created);
    ns.terminating = !string_at(object, {"metadata", "deletionTimestamp"}).empty();
    return ns;
}

std::string preview_label_problem(const PreviewNamespace& ns, const PreviewOwner& owner) {
    const std::pair<std::string_view, std::string_view> wanted[] = {
        {render::k_managed_by_label, render::k_managed_by_value},
        {render::k_app_label, owner.app},
        {render::k_env_label, owner.env},
        {render::k_preview_label, k_preview_value},
    };
    for (const auto& [label, value] : wanted) {
        auto found = ns.labels.find(std::string(label));
        if (found == ns.labels.end()) return fmt::format("label {} is missing", label);
        if (found->second != value) return fmt::format("label {} is \"{}\", not \"{}\"", label, found->second, value);
    }
    if (ns.branch().empty()) return fmt::format("annotation {} is missing", render::k_branch_annotation);
    return {};
}

model::Json preview_namespace_object(const PreviewOwner& owner, std::string_view name, std::string_view branch,
                                     Clock::time_point deployed) {
    return {{"apiVersion", "v1"},
            {"kind", "Namespace"},
            {"metadata",
             {{"name", name},
              {"labels",
               {{render::k_managed_by_label, render::k_managed_by_value},
                {render::k_app_label, owner.app},
                {render::k_env_label, owner.env},
                {render::k_preview_label, k_preview_value}}},
              {"annotations",
               {{render::k_branch_annotation, branch}, {render::k_last_deployed_annotation, format_rfc3339(deployed)}}}}}};
}

namespace {

// A namespace as the server has it now; nullopt when there is none.
Result<std::optional<PreviewNamespace>> read_namespace(kube::Client& client, const std::string& name) {
    auto response = client.send({.method = http::Method::get, .path = namespace_path(name)});
    if (!response) return fail(response.error());
    if (response->status == 404) return std::optional<PreviewNamespace>();
    if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject_of(name)));
    return std::optional<PreviewNamespace>(preview_namespace_from_json(model::parse_json(response->body)));
}

// Creates a namespace; false when one of that name appeared meanwhile (409), to be read again.
Result<bool> create_namespace(kube::Client& client, const model::Json& object, const std::string& name) {
    auto created = client.send({.method = http::Method::post,
                                .path = fmt::format("/api/v1/namespaces?fieldManager={}", render::k_field_manager),
                                .body = object.dump(),
                                .content_type = "application/json",
                                .replay = kube::Replay::unsafe});
    // An unknown outcome is settled by reading again, as is a namespace someone else just made.
    if (!created || created->status == 409) return false;
    if (!kube::ok(created->status)) return fail(kube::api_error(*created, subject_of(name)));
    return true;
}

constexpr int k_namespace_attempts = 3;  // a namespace that changes under us this often is left to the next run

// Why `ns` cannot be (or become) the preview of `branch`; nullopt when it is that preview already.
std::optional<util::Error> preview_refusal(const PreviewNamespace& ns, const PreviewOwner& owner, std::string_view branch) {
    if (const std::string problem = preview_label_problem(ns, owner); !problem.empty()) {
        return util::make_error(util::ErrorCode::input,
                                fmt::format("exists and is not a preview of {}/{} ({}); minicd does not take over a "
                                            "namespace it did not create as a preview, so nothing was deployed to branch "
                                            "\"{}\"'s preview",
                                            owner.app, owner.env, problem, branch),
                                subject_of(ns.name));
    }
    if (ns.branch() != branch) {
        return util::make_error(util::ErrorCode::input,
                                fmt::format("is the preview of branch \"{}\"; branch \"{}\" maps to the same name, so "
                                            "nothing was deployed (rename the branch or change the namespace template)",
                                            ns.branch(), branch),
                                subject_of(ns.name));
    }
    if (ns.terminating) {
        return util::make_error(util::ErrorCode::api, "is being deleted (its preview was torn down); run again once it is gone",
                                subject_of(ns.name));
    }
    return std::nullopt;
}

// Why an environment with a fixed namespace cannot deploy into `ns`; nullopt when it can.
std::optional<util::Error> environment_refusal(const PreviewNamespace& ns) {
    const auto preview = ns.labels.find(std::string(render::k_preview_label));
    if (preview == ns.labels.end() || preview->second != k_preview_value) return std::nullopt;
    return util::make_error(util::ErrorCode::input,
                            fmt::format("is the preview namespace of branch \"{}\"; an environment with a fixed namespace "
                                        "must not share it (preview gc deletes it with its branch), so nothing was deployed",
                                        ns.branch()),
                            subject_of(ns.name));
}

}  // namespace

Result<void> check_preview_namespace(kube::Client& client, const PreviewOwner& owner, const std::string& name,
                                     std::string_view branch) {
    auto found = read_namespace(client, name);
    if (!found) return fail(found.error());
    if (!*found) return {};
    if (auto refusal = preview_refusal(**found, owner, branch)) return fail(*refusal);
    return {};
}

Result<void> check_environment_namespace(kube::Client& client, const std::string& name) {
    auto found = read_namespace(client, name);
    if (!found) return fail(found.error());
    if (*found) {
        if (auto refusal = environment_refusal(**found)) return fail(*refusal);
    }
    return {};
}

Result<void> ensure_preview_namespace(kube::Client& client, const PreviewOwner& owner, const std::string& name,
                                      std::string_view branch, Clock::time_point deployed) {
    for (int attempt = 0; attempt < k_namespace_attempts; ++attempt) {
        auto found = read_namespace(client, name);
        if (!found) return fail(found.error());
        model::Json object = preview_namespace_object(owner, name, branch, deployed);
        if (!*found) {
            auto created = create_namespace(client, object, name);
            if (!created) return fail(created.error());
            if (*created) return {};
            continue;
        }
        if (auto refusal = preview_refusal(**found, owner, branch)) return fail(*refusal);
        // The resourceVersion makes the apply conditional: a namespace changed since it was checked is checked again.
        object["metadata"]["resourceVersion"] = (*found)->resource_version;
        auto applied = kube::apply(client, namespace_path(name), object, render::k_field_manager, kube::DryRun::no);
        if (!applied) return fail(applied.error());
        if (applied->status == 409) continue;
        if (!kube::ok(applied->status)) return fail(kube::api_error(*applied, subject_of(name)));
        return {};
    }
    return fail(util::ErrorCode::api, "kept changing while it was being checked; run again", subject_of(name));
}

Result<void> ensure_environment_namespace(kube::Client& client, const std::string& name) {
    const model::Json object = {
        {"apiVersion", "v1"},
        {"kind", "Namespace"},
        {"metadata", {{"name", name}, {"labels", {{render::k_managed_by_label, render::k_managed_by_value}}}}}};
    for (int attempt = 0; attempt < k_namespace_attempts; ++attempt) {
        auto found = read_namespace(client, name);
        if (!found) return fail(found.error());
        if (*found) {
            if (auto refusal = environment_refusal(**found)) return fail(*refusal);
            return {};
        }
        auto created = create_namespace(client, object, name);
        if (!created) return fail(created.error());
        if (*created) return {};
    }
    return fail(util::ErrorCode::api, "kept changing while it was being checked; run again", subject_of(name));
}

std::string format_age(std::chrono::seconds age) {
    const long total = std::max<long>(0, static_cast<long>(age.count()));
    const long days = total / 86400;
    const long hours = total % 86400 / 3600;
    const long minutes = total % 3600 / 60;
    // The second unit only while the first is small, where it still says something.
    if (days >= 10 || (days > 0 && hours == 0)) return fmt::format("{}d", days);
    if (days > 0) return fmt::format("{}d{}h", days, hours);
    if (hours >= 10 || (hours > 0 && minutes == 0)) return fmt::format("{}h", hours);
    if (hours > 0) return fmt::format("{}h{}m", hours, minutes);
    if (minutes > 0) return fmt::format("{}m", minutes);
    return fmt::format("{}s", total);
}

std::string format_rfc3339(Clock::time_point time) {
    const std::time_t seconds = Clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

Result<const config::Environment*> preview_environment(const config::Config& config, std::string_view env) {
    std::vector<const config::Environment*> candidates;
    for (const auto& environment : config.environments) {
        if (environment.per_branch()) candidates.push_back(&environment);
    }
    if (!env.empty()) {
        const config::Environment* named = config.find(env);
        if (named == nullptr) return fail(util::ErrorCode::input, fmt::format("no environment {} in minicd.yaml", env));
        if (!named->per_branch()) {
            return fail(util::ErrorCode::input,
                        fmt::format("environment {} has no {{branch}} in its namespace template, so it has no previews", env));
        }
        return named;
    }
    if (candidates.size() == 1) return candidates.front();
    if (candidates.empty()) {
        return fail(util::ErrorCode::input,
                    "no environment in minicd.yaml has previews (a namespace template with {branch})");
    }
    std::vector<std::string> names;
    for (const auto* candidate : candidates) names.push_back(candidate->name);
    return fail(util::ErrorCode::input,
                fmt::format("several environments have previews ({}): choose one with --env", fmt::join(names, ", ")));
}

Result<std::vector<PreviewNamespace>> list_previews(kube::Client& client, const PreviewOwner& owner) {
    auto items = kube::list_all(client, "/api/v1/namespaces", {.label_selector = owner.label_selector()});
    if (!items) return fail(items.error().context("listing preview namespaces"));
    std::vector<PreviewNamespace> previews;
    for (const auto& item : *items) {
        PreviewNamespace ns = preview_namespace_from_json(item);
        // The selector is the server's promise; deleting on it alone would trust a filter we did not check.
        if (const std::string problem = preview_label_problem(ns, owner); !problem.empty()) {
            util::log_debug("namespace {} is not a preview of {}/{}: {}", ns.name, owner.app, owner.env, problem);
            continue;
        }
        previews.push_back(std::move(ns));
    }
    std::sort(previews.begin(), previews.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return previews;
}

Result<std::string> preview_namespace_name(const config::Config& config, const config::Environment& environment,
                                           std::string_view branch) {
    return namespace_name(environment.namespace_, {.app = config.app, .env = environment.name, .branch = branch});
}

Result<std::string> preview_url(const config::Config& config, const config::Environment& environment,
                                std::string_view branch) {
    if (environment.host.empty()) {
        return fail(util::ErrorCode::input, fmt::format("environment {} has no host template", environment.name));
    }
    auto host = host_name(environment.host, {.app = config.app, .env = environment.name, .branch = branch});
    if (!host) return fail(host.error());
    return fmt::format("{}://{}", environment.tls ? "https" : "http", *host);
}

Result<TearDown> delete_preview(kube::Client& client, const PreviewNamespace& ns) {
    auto response = kube::delete_object(client, namespace_path(ns.name), {.uid = ns.uid, .resource_version = ns.resource_version});
    if (!response) return fail(response.error().context(fmt::format("deleting namespace {}", ns.name)));
    if (response->status == 404) return TearDown::absent;
    if (!kube::ok(response->status)) {
        return fail(kube::api_error(*response, subject_of(ns.name))
                        .context(response->status == 409 ? "changed or re-created since it was read; left alone"
                                                         : "deleting"));
    }
    return TearDown::deleted;
}

Result<TearDown> tear_down_preview(kube::Client& client, const PreviewOwner& owner, const std::string& namespace_,
                                   std::string_view branch, const TearDownOptions& options) {
    auto response = client.send({.method = http::Method::get, .path = namespace_path(namespace_)});
    if (!response) return fail(response.error());
    if (response->status == 404) return TearDown::absent;
    if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject_of(namespace_)));
    const PreviewNamespace ns = preview_namespace_from_json(model::parse_json(response->body));

    if (const std::string problem = preview_label_problem(ns, owner); !problem.empty()) {
        return fail(util::ErrorCode::input,
                    fmt::format("not a preview of {}/{} ({}); nothing was deleted", owner.app, owner.env, problem),
                    subject_of(namespace_));
    }
    if (ns.branch() != branch) {
        return fail(util::ErrorCode::input,
                    fmt::format("is the preview of branch \"{}\", not \"{}\"; nothing was deleted", ns.branch(), branch),
                    subject_of(namespace_));
    }
    TearDown outcome = TearDown::terminating;
    if (!ns.terminating) {
        auto deleted = delete_preview(client, ns);
        if (!deleted) return fail(deleted.error());
        outcome = *deleted;
    }
    if (options.wait && outcome != TearDown::absent) {
        auto left = wait_until_gone(client, {ns}, options.timeout);
        if (!left) return fail(left.error());
        if (!left->empty()) {
            return fail(util::ErrorCode::timeout,
                        fmt::format("still there after {}s: {}", options.timeout.count(), left->front()),
                        subject_of(namespace_));
        }
    }
    return outcome;
}

Result<std::vector<std::string>> wait_until_gone(kube::Client& client, const std::vector<PreviewNamespace>& namespaces,
                                                 std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<PreviewNamespace> waiting = namespaces;
    std::map<std::string, std::string> why;
    while (!waiting.empty()) {
        std::vector<PreviewNamespace> still;
        for (const auto& ns : waiting) {
            auto response = client.send({.method = http::Method::get, .path = namespace_path(ns.name)});
            if (!response) return fail(response.error());
            if (response->status == 404) continue;
            if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject_of(ns.name)));
            const model::Json object = model::parse_json(response->body);
            // A namespace of the same name created since is another one: ours is gone.
            if (string_at(object, {"metadata", "uid"}) != ns.uid) continue;
            why[ns.name] = why_still_there(object);
            still.push_back(ns);
        }
        waiting = std::move(still);
        if (waiting.empty() || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(k_poll_interval);
    }
    std::vector<std::string> left;
    for (const auto& ns : waiting) left.push_back(fmt::format("{} ({})", ns.name, why[ns.name]));
    return left;
}

std::vector<std::string> port_forward_argv(const PortForwardRequest& request, std::string_view service,
                                           std::string_view ports) {
    std::vector<std::string> argv = {"kubectl"};
    if (!request.kubeconfig.empty()) argv.insert(argv.end(), {"--kubeconfig", request.kubeconfig});
    if (!request.context.empty()) argv.insert(argv.end(), {"--context", request.context});
    argv.insert(argv.end(), {"-n", request.namespace_, "port-forward", fmt::format("svc/{}", service), std::string(ports)});
    return argv;
}

Result<PortForward> plan_port_forward(kube::Client& client, const PortForwardRequest& request, const PreviewOwner& owner) {
    if (!request.ports.empty() && !is_port_spec(request.ports)) {
        return fail(util::ErrorCode::input,
                    fmt::format("--port \"{}\": expected LOCAL:REMOTE or PORT, e.g. 8080:80", request.ports));
    }
    const std::string services = fmt::format("/api/v1/namespaces/{}/services", request.namespace_);
    if (!request.service.empty()) {
        auto service = client.get_json(fmt::format("{}/{}", services, request.service));
        if (!service) return fail(service.error());
        return port_forward_for(request, *service);
    }
    auto items = kube::list_all(client, services, {.label_selector = fmt::format("{}={}", render::k_app_label, owner.app)});
    if (!items) return fail(items.error());
    if (items->empty()) {
        // An empty list is also what a namespace that does not exist gives; say which it is.
        auto found = client.send({.method = http::Method::get, .path = namespace_path(request.namespace_)});
        if (found && found->status == 404) {
            return fail(util::ErrorCode::input, "no such namespace: is there a preview of this branch?",
                        subject_of(request.namespace_));
        }
    }
    if (items->size() != 1) {
        std::vector<std::string> names;
        for (const auto& item : *items) names.push_back(string_at(item, {"metadata", "name"}));
        return fail(util::ErrorCode::input,
                    items->empty() ? fmt::format("no Service of app {} here: name one with --service", owner.app)
                                   : fmt::format("{} Services of app {} here ({}): choose one with --service",
                                                 items->size(), owner.app, fmt::join(names, ", ")),
                    subject_of(request.namespace_));
    }
    return port_forward_for(request, items->front());
}

}  // namespace minicd::pipeline
