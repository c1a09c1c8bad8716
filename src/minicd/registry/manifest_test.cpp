#include "minicd/registry/manifest.hpp"

#include <gtest/gtest.h>

namespace minicd::registry {
namespace {

const std::string k_a = "sha256:" + std::string(64, 'a');
const std::string k_b = "sha256:" + std::string(64, 'b');
const std::string k_c = "sha256:" + std::string(64, 'c');

TEST(ManifestDigest, VerifiesExactBytes) {
    const std::string bytes = R"({"schemaVersion":2})";
    const std::string digest = sha256_digest(bytes);
    EXPECT_TRUE(verify_digest(bytes, digest, "r.io/app"));
    // One space more is another manifest: digests are over bytes, never over re-serialised JSON.
    auto changed = verify_digest(R"({"schemaVersion": 2})", digest, "r.io/app");
    ASSERT_FALSE(changed);
    EXPECT_NE(changed.error().message.find(digest), std::string::npos);
    EXPECT_EQ(changed.error().subject, "r.io/app");
}

TEST(ManifestDigest, RefusesWhatItCannotCheck) {
    auto other = verify_digest("x", "sha512:" + std::string(128, '0'), "r.io/app");
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().message.find("only sha256"), std::string::npos);
}

TEST(ManifestDigest, KnownVector) {
    EXPECT_EQ(sha256_digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ManifestMediaType, PrefersContentTypeThenBodyThenShape) {
    EXPECT_EQ(manifest_media_type(std::string(k_oci_index) + "; charset=utf-8", "{}"), k_oci_index);
    EXPECT_EQ(manifest_media_type("application/json", R"({"mediaType":")" + std::string(k_docker_manifest) + R"("})"),
              k_docker_manifest);
    EXPECT_EQ(manifest_media_type("", R"({"schemaVersion":2,"manifests":[]})"), k_oci_index);
    EXPECT_EQ(manifest_media_type("", R"({"schemaVersion":2,"config":{},"layers":[]})"), k_oci_manifest);
    EXPECT_EQ(manifest_media_type("text/plain", "not json"), "");
    EXPECT_NE(manifest_accept().find(k_docker_manifest_list), std::string::npos);
    EXPECT_NE(manifest_accept().find(k_oci_index), std::string::npos);
}

TEST(ManifestReferences, ImageListsConfigThenLayersAndSkipsForeignLayers) {
    Manifest image{.bytes = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + k_a + R"(","size":12},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + k_b + R"(","size":34},
                  {"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":")" + k_c +
                       R"(","size":5,"urls":["https://example.com/layer"]}]})",
                   .media_type = std::string(k_oci_manifest),
                   .digest = "d"};
    auto refs = manifest_references(image);
    ASSERT_TRUE(refs) << refs.error().describe();
    ASSERT_EQ(refs->blobs.size(), 2u);
    EXPECT_EQ(refs->blobs[0], (Descriptor{"application/vnd.oci.image.config.v1+json", k_a, 12}));
    EXPECT_EQ(refs->blobs[1].digest, k_b);
    EXPECT_TRUE(refs->manifests.empty());
}

TEST(ManifestReferences, IndexListsChildren) {
    Manifest index{.bytes = R"({"schemaVersion":2,"manifests":[
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + k_a + R"(","size":100,
         "platform":{"architecture":"amd64","os":"linux"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + k_b + R"(","size":101}]})",
                   .media_type = std::string(k_oci_index),
                   .digest = "d"};
    auto refs = manifest_references(index);
    ASSERT_TRUE(refs);
    ASSERT_EQ(refs->manifests.size(), 2u);
    EXPECT_EQ(refs->manifests[1].digest, k_b);
    EXPECT_EQ(refs->manifests[1].size, 101);
    EXPECT_TRUE(refs->blobs.empty());
}

TEST(ManifestReferences, RejectsBrokenManifests) {
    for (std::string bytes : std::vector<std::string>{"[]", R"({"config":{"size":1}})", R"({"layers":[{"digest":"nope"}]})",
                              R"({"layers":{}})"}) {
        EXPECT_FALSE(manifest_references({.bytes = bytes, .media_type = std::string(k_oci_manifest), .digest = "d"}))
            << bytes;
    }
    EXPECT_FALSE(manifest_references({.bytes = R"({"manifests":{}})", .media_type = std::string(k_oci_index), .digest = "d"}));
}

TEST(ManifestReferences, FieldsOfTheWrongTypeAreErrorsOrIgnoredNeverThrown) {
    // A registry's JSON is untrusted: a mediaType that is a number, a size that is text.
    Manifest index{.bytes = R"({"schemaVersion":2,"mediaType":7,"manifests":[
        {"mediaType":5,"digest":")" + k_a + R"(","size":"100"},
        {"mediaType":{"type":"x"},"digest":")" + k_b + R"(","size":101}]})",
                   .media_type = std::string(k_oci_index),
                   .digest = "d"};
    std::optional<Result<References>> refs;
    ASSERT_NO_THROW(refs = manifest_references(index));
    ASSERT_TRUE(*refs) << (*refs).error().describe();
    ASSERT_EQ((*refs)->manifests.size(), 2u);
    EXPECT_EQ((*refs)->manifests[0], (Descriptor{"", k_a, -1}));
    EXPECT_EQ((*refs)->manifests[1], (Descriptor{"", k_b, 101}));

    Manifest image{.bytes = R"({"config":{"mediaType":[],"digest":")" + k_a + R"("},
        "layers":[{"mediaType":12,"digest":")" + k_b + R"(","urls":"x"}]})",
                   .media_type = std::string(k_oci_manifest),
                   .digest = "d"};
    ASSERT_NO_THROW(refs = manifest_references(image));
    ASSERT_TRUE(*refs) << (*refs).error().describe();
    EXPECT_EQ((*refs)->blobs.size(), 2u);

    for (std::string bytes : std::vector<std::string>{R"({"layers":[5]})", R"({"layers":[null]})", R"({"layers":[{"digest":9}]})",
                                                      R"({"config":"sha256"})", R"({"layers":null})"}) {
        ASSERT_NO_THROW(refs = manifest_references({.bytes = bytes, .media_type = std::string(k_oci_manifest), .digest = "d"}))
            << bytes;
        EXPECT_FALSE(*refs) << bytes;
    }
    for (std::string bytes : std::vector<std::string>{R"({"manifests":[7]})", R"({"manifests":[{"digest":[]}]})"}) {
        ASSERT_NO_THROW(refs = manifest_references({.bytes = bytes, .media_type = std::string(k_oci_index), .digest = "d"}))
            << bytes;
        EXPECT_FALSE(*refs) << bytes;
    }
}

TEST(ManifestMediaType, AMediaTypeThatIsNotTextIsJudgedByShape) {
    EXPECT_EQ(manifest_media_type("", R"({"mediaType":3,"manifests":[]})"), k_oci_index);
    EXPECT_EQ(manifest_media_type("text/plain", R"({"mediaType":null,"layers":[]})"), k_oci_manifest);
    EXPECT_EQ(manifest_media_type("", std::string(100000, '[')), "");
}

}  // namespace
}  // namespace minicd::registry
