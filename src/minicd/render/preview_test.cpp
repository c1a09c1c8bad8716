#include "minicd/render/preview.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace minicd::render {
namespace {

using model::Json;

source::Manifest manifest(const std::string& json) {
    return source::Manifest{model::Object(Json::parse(json)), "k8s/ingress.yaml", 4};
}

const char* k_one_rule = R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"web"},
  "spec":{"rules":[{"host":"shop.example.com","http":{"paths":[{"path":"/","pathType":"Prefix",
  "backend":{"service":{"name":"web","port":{"number":80}}}}]}}],
  "tls":[{"hosts":["shop.example.com"],"secretName":"shop-cert"}]}})";

TEST(PreviewRouting, SetsHostIssuerAndTlsOnTheOnlyRule) {
    std::vector<source::Manifest> manifests{manifest(k_one_rule)};
    auto routed = route_preview(manifests, {.host = "feat-a.dev.example.com", .tls = PreviewTls{.cluster_issuer = "le"}});
    ASSERT_TRUE(routed) << routed.error().describe();
    const Json& body = manifests[0].object.body();
    EXPECT_EQ(body["spec"]["rules"][0]["host"], "feat-a.dev.example.com");
    EXPECT_EQ(body["spec"]["rules"][0]["http"]["paths"][0]["path"], "/");
    EXPECT_EQ(body["metadata"]["annotations"]["cert-manager.io/cluster-issuer"], "le");
    EXPECT_EQ(body["spec"]["tls"], Json::parse(R"([{"hosts":["feat-a.dev.example.com"],"secretName":"web-tls"}])"));
    EXPECT_EQ(routed->ingresses.size(), 1U);
}

TEST(PreviewRouting, NamespacedIssuerReplacesAClusterIssuerAndKeepsTheConfiguredSecret) {
    auto json = Json::parse(k_one_rule);
    json["metadata"]["annotations"] = {{"cert-manager.io/cluster-issuer", "prod"}};
    std::vector<source::Manifest> manifests{manifest(json.dump())};
    auto routed = route_preview(manifests, {.host = "h.example.com", .tls = PreviewTls{.issuer = "ca", .secret_name = "p"}});
    ASSERT_TRUE(routed);
    const Json& annotations = manifests[0].object.body()["metadata"]["annotations"];
    EXPECT_FALSE(annotations.contains("cert-manager.io/cluster-issuer"));
    EXPECT_EQ(annotations["cert-manager.io/issuer"], "ca");
    EXPECT_EQ(manifests[0].object.body()["spec"]["tls"][0]["secretName"], "p");
}

TEST(PreviewRouting, WithoutIssuerExistingTlsKeepsItsSecretAndGetsTheHost) {
    std::vector<source::Manifest> manifests{manifest(k_one_rule)};
    ASSERT_TRUE(route_preview(manifests, {.host = "h.example.com"}));
    const Json& body = manifests[0].object.body();
    EXPECT_EQ(body["spec"]["tls"], Json::parse(R"([{"hosts":["h.example.com"],"secretName":"shop-cert"}])"));
    EXPECT_FALSE(body["metadata"].contains("annotations"));
}

TEST(PreviewRouting, MergesSeveralRulesIntoOneHost) {
    std::vector<source::Manifest> manifests{manifest(R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
      "metadata":{"name":"web"},"spec":{"rules":[
        {"host":"www.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}}]}},
        {"host":"api.example.com","http":{"paths":[{"path":"/api","pathType":"Prefix","backend":{"service":{"name":"api","port":{"number":80}}}}]}}]}})")};
    ASSERT_TRUE(route_preview(manifests, {.host = "h.example.com"}));
    const Json& rules = manifests[0].object.body()["spec"]["rules"];
    ASSERT_EQ(rules.size(), 1U);
    EXPECT_EQ(rules[0]["host"], "h.example.com");
    ASSERT_EQ(rules[0]["http"]["paths"].size(), 2U);
    EXPECT_EQ(rules[0]["http"]["paths"][1]["backend"]["service"]["name"], "api");
}

TEST(PreviewRouting, RefusesRulesThatRouteTheSamePath) {
    std::vector<source::Manifest> manifests{manifest(R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
      "metadata":{"name":"web"},"spec":{"rules":[
        {"host":"a.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"a","port":{"number":80}}}}]}},
        {"host":"b.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"b","port":{"number":80}}}}]}}]}})")};
    auto routed = route_preview(manifests, {.host = "h.example.com"});
    ASSERT_FALSE(routed);
    EXPECT_EQ(routed.error().subject, "k8s/ingress.yaml:4");
    EXPECT_NE(routed.error().message.find("\"/\""), std::string::npos);
}

TEST(PreviewRouting, LeavesRulelessIngressesAndOtherKindsAlone) {
    std::vector<source::Manifest> manifests{
        manifest(R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"d"},
                     "spec":{"defaultBackend":{"service":{"name":"web","port":{"number":80}}}}})"),
        manifest(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"rules":[{"host":"x"}]}})")};
    const Json service_before = manifests[1].object.body();
    auto routed = route_preview(manifests, {.host = "h.example.com", .tls = PreviewTls{.cluster_issuer = "le"}});
    ASSERT_TRUE(routed);
    EXPECT_TRUE(routed->ingresses.empty());
    ASSERT_EQ(routed->warnings.size(), 1U);
    EXPECT_EQ(manifests[1].object.body(), service_before);
    EXPECT_FALSE(manifests[0].object.body()["spec"].contains("tls"));
}

TEST(PreviewRouting, RefusesTwoIssuersOrNone) {
    std::vector<source::Manifest> manifests{manifest(k_one_rule)};
    EXPECT_FALSE(route_preview(manifests, {.host = "h", .tls = PreviewTls{.cluster_issuer = "a", .issuer = "b"}}));
    EXPECT_FALSE(route_preview(manifests, {.host = "h", .tls = PreviewTls{}}));
    EXPECT_FALSE(route_preview(manifests, {.host = ""}));
}

TEST(PreviewRouting, SecretNameFitsADnsSubdomain) {
    EXPECT_EQ(preview_tls_secret_name("web"), "web-tls");
    EXPECT_EQ(preview_tls_secret_name(std::string(260, 'a')).size(), 253U);
}

TEST(PreviewRouting, SecretNameIsCutBetweenCharacters) {
    // 248 bytes of 'a' then 'é' (2 bytes): a cut at 249 bytes would keep half of it, which JSON cannot carry.
    const std::string name = preview_tls_secret_name(std::string(248, 'a') + "\u00e9\u00e9");
    EXPECT_EQ(name, std::string(248, 'a') + "-tls");
    EXPECT_NO_THROW((void)Json(name).dump());
}

TEST(PreviewRouting, PathsOfOddTypeAreMergedNotThrownOn) {
    std::vector<source::Manifest> manifests{manifest(R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
      "metadata":{"name":"web"},"spec":{"rules":[
        {"host":"a.example.com","http":{"paths":[{"path":7,"pathType":["Prefix"]},"not-a-path"]}},
        {"host":"b.example.com","http":{"paths":[{"path":"/b","pathType":"Exact"}]}}]}})")};
    std::optional<Result<PreviewRoutingResult>> routed;
    ASSERT_NO_THROW(routed = route_preview(manifests, {.host = "h.example.com"}));
    ASSERT_TRUE(*routed) << (*routed).error().describe();
    EXPECT_EQ(manifests[0].object.body()["spec"]["rules"][0]["http"]["paths"].size(), 3U);
}

}  // namespace
}  // namespace minicd::render
