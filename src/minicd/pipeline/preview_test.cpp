#include "minicd/pipeline/preview.hpp"

#include <gtest/gtest.h>

#include "minicd/kube/exec_plugin.hpp"
#include "minicd/render/ownership.hpp"

namespace minicd::pipeline {
namespace {

using namespace std::chrono_literals;

const PreviewOwner k_owner{.app = "shop", .env = "preview"};

config::Environment environment(std::string name, std::string namespace_template, std::string host = {}) {
    config::Environment env;
    env.name = std::move(name);
    env.namespace_ = std::move(namespace_template);
    env.host = std::move(host);
    return env;
}

config::Config config_with(std::vector<config::Environment> environments) {
    config::Config config;
    config.app = "shop";
    config.environments = std::move(environments);
    return config;
}

TEST(PreviewOwner, SelectsEveryPreviewLabel) {
    EXPECT_EQ(k_owner.label_selector(),
              "app.kubernetes.io/managed-by=minicd,minicd.io/app=shop,minicd.io/env=preview,minicd.io/preview=true");
}

TEST(PreviewNamespaceObject, CarriesTheLabelsGcLooksFor) {
    const auto deployed = *kube::parse_rfc3339("2024-05-01T12:00:00Z");
    model::Json object = preview_namespace_object(k_owner, "shop-feature-a", "feature/a", deployed + 400ms);
    EXPECT_EQ(object["metadata"]["name"], "shop-feature-a");
    object["metadata"]["uid"] = "u-1";
    object["metadata"]["creationTimestamp"] = "2024-04-01T00:00:00Z";
    const PreviewNamespace ns = preview_namespace_from_json(object);
    EXPECT_EQ(preview_label_problem(ns, k_owner), "");
    EXPECT_EQ(ns.branch(), "feature/a");
    EXPECT_EQ(ns.last_deployed_text(), "2024-05-01T12:00:00Z");
    EXPECT_EQ(ns.last_deployed(), deployed);
    EXPECT_EQ(ns.created, kube::parse_rfc3339("2024-04-01T00:00:00Z"));
    EXPECT_EQ(ns.uid, "u-1");
    EXPECT_FALSE(ns.terminating);
}

TEST(PreviewNamespaceFromJson, ToleratesMissingAndOddFields) {
    const PreviewNamespace ns = preview_namespace_from_json(
        {{"metadata", {{"name", "x"}, {"labels", {{"a", 1}, {"b", "c"}}}, {"deletionTimestamp", "2024-05-01T12:00:00Z"}}}});
    EXPECT_EQ(ns.name, "x");
    EXPECT_EQ(ns.labels, (std::map<std::string, std::string>{{"b", "c"}}));
    EXPECT_TRUE(ns.terminating);
    EXPECT_FALSE(ns.created);
    EXPECT_EQ(preview_namespace_from_json(model::Json::array()).name, "");
}

TEST(PreviewLabelProblem, NamesTheFirstLabelThatIsWrong) {
    PreviewNamespace ns = preview_namespace_from_json(preview_namespace_object(k_owner, "n", "b", Clock::now()));
    ns.labels[std::string(render::k_preview_label)] = "yes";
    EXPECT_EQ(preview_label_problem(ns, k_owner), "label minicd.io/preview is \"yes\", not \"true\"");
    EXPECT_EQ(preview_label_problem(ns, {.app = "shop", .env = "qa"}), "label minicd.io/env is \"preview\", not \"qa\"");
}

TEST(FormatAge, ShowsOneOrTwoUnits) {
    EXPECT_EQ(format_age(0s), "0s");
    EXPECT_EQ(format_age(-5s), "0s");
    EXPECT_EQ(format_age(59s), "59s");
    EXPECT_EQ(format_age(12min + 3s), "12m");
    EXPECT_EQ(format_age(3h + 20min), "3h20m");
    EXPECT_EQ(format_age(3h), "3h");
    EXPECT_EQ(format_age(11h + 20min), "11h");
    EXPECT_EQ(format_age(5 * 24h + 4h), "5d4h");
    EXPECT_EQ(format_age(7 * 24h), "7d");
    EXPECT_EQ(format_age(12 * 24h + 5h), "12d");
}

TEST(FormatRfc3339, WritesUtcSeconds) {
    const auto time = *kube::parse_rfc3339("2024-02-29T23:59:58Z");
    EXPECT_EQ(format_rfc3339(time + 999ms), "2024-02-29T23:59:58Z");
}

TEST(PreviewEnvironment, PicksTheOnlyPerBranchEnvironment) {
    const config::Config config =
        config_with({environment("staging", "shop"), environment("preview", "shop-{branch}"), environment("prod", "shop-prod")});
    auto found = preview_environment(config, "");
    ASSERT_TRUE(found) << found.error().describe();
    EXPECT_EQ((*found)->name, "preview");
}

TEST(PreviewEnvironment, SeveralNeedAChoice) {
    const config::Config config = config_with({environment("preview", "shop-{branch}"), environment("qa", "qa-{branch}")});
    auto ambiguous = preview_environment(config, "");
    ASSERT_FALSE(ambiguous);
    EXPECT_NE(ambiguous.error().message.find("preview, qa"), std::string::npos) << ambiguous.error().message;
    EXPECT_NE(ambiguous.error().message.find("--env"), std::string::npos);
    auto chosen = preview_environment(config, "qa");
    ASSERT_TRUE(chosen);
    EXPECT_EQ((*chosen)->name, "qa");
}

TEST(PreviewEnvironment, RefusesAnEnvironmentWithoutPreviews) {
    const config::Config config = config_with({environment("staging", "shop"), environment("preview", "shop-{branch}")});
    EXPECT_FALSE(preview_environment(config, "staging"));
    EXPECT_FALSE(preview_environment(config, "nope"));
    EXPECT_FALSE(preview_environment(config_with({environment("staging", "shop")}), ""));
}

TEST(PreviewUrl, FollowsTheHostTemplateAndTls) {
    config::Environment env = environment("preview", "shop-{branch}", "{branch}.dev.example.com");
    const config::Config config = config_with({env});
    EXPECT_EQ(preview_url(config, env, "fix-42"), "http://fix-42.dev.example.com");
    env.tls = config::Tls{.cluster_issuer = "letsencrypt", .issuer = {}, .secret_name = {}};
    auto url = preview_url(config, env, "Feature/Login");
    ASSERT_TRUE(url);
    EXPECT_TRUE(url->starts_with("https://feature-login-")) << *url;
    EXPECT_TRUE(url->ends_with(".dev.example.com")) << *url;
    EXPECT_FALSE(preview_url(config, environment("preview", "shop-{branch}"), "x"));
}

TEST(PreviewNamespaceName, FollowsTheNamespaceTemplate) {
    const config::Environment env = environment("preview", "{app}-{branch}");
    EXPECT_EQ(preview_namespace_name(config_with({env}), env, "fix-42"), "shop-fix-42");
}

TEST(PortForwardArgv, NamesContextNamespaceAndService) {
    const PortForwardRequest request{.namespace_ = "shop-fix-42", .service = {}, .ports = {}, .context = "dev", .kubeconfig = {}};
    EXPECT_EQ(port_forward_argv(request, "web", "8080:80"),
              (std::vector<std::string>{"kubectl", "--context", "dev", "-n", "shop-fix-42", "port-forward", "svc/web", "8080:80"}));
    PortForwardRequest with_file = request;
    with_file.kubeconfig = "/etc/kube/dev";
    EXPECT_EQ(port_forward_argv(with_file, "web", "80"),
              (std::vector<std::string>{"kubectl", "--kubeconfig", "/etc/kube/dev", "--context", "dev", "-n", "shop-fix-42",
                                        "port-forward", "svc/web", "80"}));
}

}  // namespace
}  // namespace minicd::pipeline
