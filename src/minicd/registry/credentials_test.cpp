#include "minicd/registry/credentials.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "minicd/util/encoding.hpp"

namespace minicd::registry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CredentialLookup : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/minicd-credentials-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_dir = pattern;
        fs::create_directories(m_dir + "/bin");
        m_options.docker_config_dir = m_dir;
        m_options.environment = std::map<std::string, std::string>{{"PATH", m_dir + "/bin:/usr/bin:/bin"}};
        m_options.helper_timeout = 5s;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    void write_config(const std::string& json) { std::ofstream(m_dir + "/config.json") << json; }
    void set_env(const std::string& name, const std::string& value) { (*m_options.environment)[name] = value; }

    // A helper script that answers for one server and records what it was asked.
    void write_helper(const std::string& name, const std::string& body) {
        std::string path = m_dir + "/bin/docker-credential-" + name;
        std::ofstream(path) << "#!/bin/sh\n" << body;
        fs::permissions(path, fs::perms::owner_all);
    }

    std::optional<Credentials> lookup(std::string_view registry) {
        auto found = find_credentials(registry, m_options);
        EXPECT_TRUE(found) << found.error().describe();
        return found.value_or(std::nullopt);
    }

    std::string m_dir;
    CredentialOptions m_options;
};

TEST_F(CredentialLookup, ReadsAuthFieldAndUsernamePasswordFromAuths) {
    write_config(fmt::format(R"({{"auths":{{
        "reg.example.com":{{"auth":"{}"}},
        "https://other.example.com/v1/":{{"username":"u2","password":"p2"}},
        "https://index.docker.io/v1/":{{"auth":"{}"}}}}}})",
                             util::base64_encode("alice:s3cret:with:colons"), util::base64_encode("hub:hubpass")));
    auto alice = lookup("reg.example.com");
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->username, "alice");
    EXPECT_EQ(alice->password.reveal(), "s3cret:with:colons");
    EXPECT_EQ(alice->source, m_dir + "/config.json");

    auto other = lookup("other.example.com");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->username, "u2");
    EXPECT_EQ(other->password.reveal(), "p2");

    for (auto hub : {"docker.io", "index.docker.io", "registry-1.docker.io"}) {
        auto found = lookup(hub);
        ASSERT_TRUE(found) << hub;
        EXPECT_EQ(found->username, "hub");
    }
    EXPECT_FALSE(lookup("unknown.example.com"));
}

TEST_F(CredentialLookup, GoogleServiceAccountUsersPassThroughUntouched) {
    const std::string key_json = R"({"type":"service_account","private_key":"-----BEGIN...\n"})";
    write_config(fmt::format(R"({{"auths":{{"gcr.io":{{"auth":"{}"}},"europe-docker.pkg.dev":{{"auth":"{}"}},
                                 "us-docker.pkg.dev":{{"auth":"{}"}}}}}})",
                             util::base64_encode("_json_key:" + key_json),
                             util::base64_encode("_json_key_base64:" + util::base64_encode(key_json)),
                             util::base64_encode("oauth2accesstoken:ya29.token")));
    EXPECT_EQ(lookup("gcr.io")->username, "_json_key");
    EXPECT_EQ(lookup("gcr.io")->password.reveal(), key_json);
    EXPECT_EQ(lookup("europe-docker.pkg.dev")->username, "_json_key_base64");
    EXPECT_EQ(lookup("europe-docker.pkg.dev")->password.reveal(), util::base64_encode(key_json));
    EXPECT_EQ(lookup("us-docker.pkg.dev")->username, "oauth2accesstoken");
    EXPECT_EQ(lookup("us-docker.pkg.dev")->password.reveal(), "ya29.token");
}

TEST_F(CredentialLookup, IdentityTokenFromAuths) {
    write_config(R"({"auths":{"reg.example.com":{"auth":"","identitytoken":"refresh-me"}}})");
    auto found = lookup("reg.example.com");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->identity_token.reveal(), "refresh-me");
    EXPECT_TRUE(found->password.empty());
}

TEST_F(CredentialLookup, HelperPerHostWinsOverAuthsAndStore) {
    write_helper("perhost", R"(read server
echo "$server" > ")" + m_dir + R"(/asked"
printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass"}' "$server"
)");
    write_helper("store", "printf '{\"Username\":\"store-user\",\"Secret\":\"store-pass\"}'\n");
    write_config(fmt::format(R"({{"credsStore":"store","credHelpers":{{"reg.example.com":"perhost"}},
                                 "auths":{{"reg.example.com":{{"auth":"{}"}}}}}})",
                             util::base64_encode("file:filepass")));
    auto found = lookup("reg.example.com");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->username, "helper-user");
    EXPECT_EQ(found->password.reveal(), "helper-pass");
    EXPECT_EQ(found->source, "docker-credential-perhost");
    std::ifstream asked(m_dir + "/asked");
    std::string server;
    std::getline(asked, server);
    EXPECT_EQ(server, "reg.example.com");

    // No helper for this host: the store answers.
    EXPECT_EQ(lookup("elsewhere.example.com")->username, "store-user");
}

TEST_F(CredentialLookup, AuthsWithCredentialsWinOverTheStoreButEmptyEntriesDoNot) {
    write_helper("store", "printf '{\"Username\":\"store-user\",\"Secret\":\"store-pass\"}'\n");
    write_config(fmt::format(R"({{"credsStore":"store","auths":{{"a.example.com":{{"auth":"{}"}},"b.example.com":{{}}}}}})",
                             util::base64_encode("file:filepass")));
    EXPECT_EQ(lookup("a.example.com")->username, "file");
    EXPECT_EQ(lookup("b.example.com")->username, "store-user");
}

TEST_F(CredentialLookup, HelperTokenUserMeansIdentityToken) {
    write_helper("tok", "printf '{\"Username\":\"<token>\",\"Secret\":\"the-refresh-token\"}'\n");
    write_config(R"({"credHelpers":{"reg.example.com":"tok"}})");
    auto found = lookup("reg.example.com");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->username, "");
    EXPECT_EQ(found->identity_token.reveal(), "the-refresh-token");
}

TEST_F(CredentialLookup, DockerHubHelperIsAskedForTheIndexUrl) {
    write_helper("hub", "read server\nprintf '{\"Username\":\"%s\",\"Secret\":\"x\"}' \"$server\"\n");
    write_config(R"({"credHelpers":{"https://index.docker.io/v1/":"hub"}})");
    EXPECT_EQ(lookup("docker.io")->username, "https://index.docker.io/v1/");
}

TEST_F(CredentialLookup, HelperFailingMeansNoCredentials) {
    write_helper("none", "echo 'credentials not found in native keychain'\nexit 1\n");
    write_config(R"({"credHelpers":{"reg.example.com":"none"}})");
    EXPECT_FALSE(lookup("reg.example.com"));
}

TEST_F(CredentialLookup, HelperProblemsAreErrorsWithoutItsOutput) {
    write_helper("garbage", "echo 'password=hunter2 not json'\n");
    write_helper("slow", "sleep 10\n");
    write_config(R"({"credHelpers":{"g.example.com":"garbage","s.example.com":"slow","m.example.com":"missing"}})");
    m_options.helper_timeout = 300ms;

    auto garbage = find_credentials("g.example.com", m_options);
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().describe().find("hunter2"), std::string::npos) << garbage.error().describe();

    auto slow = find_credentials("s.example.com", m_options);
    ASSERT_FALSE(slow);
    EXPECT_EQ(slow.error().code, util::ErrorCode::timeout);

    auto missing = find_credentials("m.example.com", m_options);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().describe().find("docker-credential-missing"), std::string::npos);
}

TEST_F(CredentialLookup, MissingDefaultStoreMeansAnonymous) {
    write_config(R"({"credsStore":"desktop"})");
    EXPECT_FALSE(lookup("reg.example.com"));
}

TEST_F(CredentialLookup, EnvironmentPerHostThenListedHostsThenConfig) {
    write_config(fmt::format(R"({{"auths":{{"127.0.0.1:5000":{{"auth":"{}"}}}}}})", util::base64_encode("file:pass")));
    EXPECT_EQ(lookup("127.0.0.1:5000")->username, "file");

    // The shared pair is used only for the hosts listed with it.
    set_env("MINICD_REGISTRY_USERNAME", "ci");
    set_env("MINICD_REGISTRY_PASSWORD", "ci-pass");
    EXPECT_EQ(lookup("127.0.0.1:5000")->username, "file");
    set_env("MINICD_REGISTRY_HOSTS", "other.example.com, 127.0.0.1:5000");
    auto shared = lookup("127.0.0.1:5000");
    EXPECT_EQ(shared->username, "ci");
    EXPECT_EQ(shared->source, "MINICD_REGISTRY_PASSWORD");
    EXPECT_FALSE(lookup("docker.io"));

    set_env("MINICD_REGISTRY_127_0_0_1_5000_USERNAME", "host-user");
    set_env("MINICD_REGISTRY_127_0_0_1_5000_PASSWORD", "host-pass");
    EXPECT_EQ(lookup("127.0.0.1:5000")->username, "host-user");
    EXPECT_EQ(environment_prefix("127.0.0.1:5000"), "MINICD_REGISTRY_127_0_0_1_5000");
}

TEST_F(CredentialLookup, ConfigKeysMatchTheirExactHostAndPortOnly) {
    write_config(fmt::format(R"({{"auths":{{
        "evil.example/https://reg.example.com":{{"auth":"{}"}},
        "reg.example.com:5000":{{"auth":"{}"}}}},
        "credHelpers":{{"attacker.example/http://helped.example.com":"missing"}}}})",
                             util::base64_encode("evil:evil-pass"), util::base64_encode("port:port-pass")));
    EXPECT_FALSE(lookup("reg.example.com")) << "a key is its leading host, not whatever follows a \"://\"";
    EXPECT_FALSE(lookup("evil.example.com"));
    EXPECT_EQ(lookup("reg.example.com:5000")->username, "port");
    EXPECT_FALSE(lookup("reg.example.com:5001"));
    EXPECT_FALSE(lookup("reg.example.com:500"));
    // The helper is named for attacker.example only; had it matched, the missing program would be an error.
    EXPECT_FALSE(lookup("helped.example.com"));
}

TEST_F(CredentialLookup, DashedHostNeverTakesTheDottedHostsVariables) {
    set_env("MINICD_REGISTRY_REGISTRY_EXAMPLE_COM_USERNAME", "dotted");
    set_env("MINICD_REGISTRY_REGISTRY_EXAMPLE_COM_PASSWORD", "dotted-hunter2");
    EXPECT_EQ(lookup("registry.example.com")->username, "dotted");

    auto dashed = find_credentials("registry-example.com", m_options);
    ASSERT_FALSE(dashed) << "the dotted host's secret was offered to registry-example.com";
    EXPECT_EQ(dashed.error().code, util::ErrorCode::input);
    std::string text = dashed.error().describe();
    EXPECT_NE(text.find("MINICD_REGISTRY_REGISTRY_EXAMPLE_COM_USERNAME"), std::string::npos) << text;
    EXPECT_NE(text.find("MINICD_REGISTRY_REGISTRY__EXAMPLE_COM_USERNAME"), std::string::npos) << text;
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;

    set_env("MINICD_REGISTRY_REGISTRY__EXAMPLE_COM_USERNAME", "dashed");
    set_env("MINICD_REGISTRY_REGISTRY__EXAMPLE_COM_PASSWORD", "dashed-pass");
    EXPECT_EQ(lookup("registry-example.com")->username, "dashed");
    EXPECT_EQ(lookup("registry.example.com")->username, "dotted");
}

TEST_F(CredentialLookup, HostsWithoutAVariableNameStillUseTheSharedPair) {
    set_env("MINICD_REGISTRY_USERNAME", "ci");
    set_env("MINICD_REGISTRY_PASSWORD", "ci-pass");
    set_env("MINICD_REGISTRY_HOSTS", "my_registry.local:5000");
    EXPECT_EQ(lookup("my_registry.local:5000")->username, "ci");
}

TEST_F(CredentialLookup, HalfAPairIsAnInputError) {
    set_env("MINICD_REGISTRY_R_IO_USERNAME", "only-user");
    auto found = find_credentials("r.io", m_options);
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code, util::ErrorCode::input);
}

TEST_F(CredentialLookup, MalformedConfigIsAnErrorNamingTheFile) {
    write_config("{not json");
    auto found = find_credentials("r.io", m_options);
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().subject, m_dir + "/config.json");
    write_config(R"({"auths":{"r.io":{"auth":"bm8tY29sb24="}}})");  // "no-colon"
    EXPECT_FALSE(find_credentials("r.io", m_options));
}

TEST_F(CredentialLookup, ConfigErrorsGiveFileLineAndKeyButNeverTheBytes) {
    // A password pasted with its line break: nlohmann's own message would quote it.
    write_config("{\"auths\": {\n  \"r.io\": {\"password\": \"pw-hunter2\n\", \"username\": \"u\"}}}");
    auto broken = find_credentials("r.io", m_options);
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().code, util::ErrorCode::input);
    EXPECT_EQ(broken.error().describe(),
              m_dir + "/config.json: not valid JSON: line 2, column 35: a string holds a raw control character such as "
                      "a line break; it must be escaped");

    write_config(R"({"auths":{"r.io":{"auth":"cGF5bG9hZC1odW50ZXIy"}}})");  // "payload-hunter2", no colon
    auto no_colon = find_credentials("r.io", m_options);
    ASSERT_FALSE(no_colon);
    EXPECT_EQ(no_colon.error().describe(),
              m_dir + "/config.json: auths \"r.io\": auth is not base64 of user:password");

    write_config(R"({"auths":{"r.io":{"auth":"hunter2!!"}}})");
    auto not_base64 = find_credentials("r.io", m_options);
    ASSERT_FALSE(not_base64);
    EXPECT_EQ(not_base64.error().describe().find("hunter2"), std::string::npos) << not_base64.error().describe();

    write_config(R"({"auths":{"r.io":{"auth":"dTpw","expiry":1e400}}})");
    auto too_large = find_credentials("r.io", m_options);
    ASSERT_FALSE(too_large);
    EXPECT_EQ(too_large.error().describe(),
              m_dir + "/config.json: not valid JSON: line 1, column 46: a number is too large");
}

TEST_F(CredentialLookup, NoConfigFileMeansAnonymous) { EXPECT_FALSE(lookup("r.io")); }

TEST(Credentials, PrintingNeverShowsSecrets) {
    Credentials credentials{.username = "alice", .password = Secret("hunter2"), .identity_token = Secret("tok"),
                            .source = "config.json"};
    std::ostringstream out;
    out << credentials;
    EXPECT_EQ(out.str().find("hunter2"), std::string::npos) << out.str();
    EXPECT_EQ(out.str().find("tok\""), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("alice"), std::string::npos);
    EXPECT_EQ(::testing::PrintToString(credentials).find("hunter2"), std::string::npos);
}

TEST(EnvironmentPrefix, DotsDashesAndPortsGetDistinctNames) {
    EXPECT_EQ(environment_prefix("registry.example.com"), "MINICD_REGISTRY_REGISTRY_EXAMPLE_COM");
    EXPECT_EQ(environment_prefix("registry-example.com"), "MINICD_REGISTRY_REGISTRY__EXAMPLE_COM");
    EXPECT_EQ(environment_prefix("europe-docker.pkg.dev"), "MINICD_REGISTRY_EUROPE__DOCKER_PKG_DEV");
    EXPECT_EQ(environment_prefix("xn--bcher-kva.example"), "MINICD_REGISTRY_XN____BCHER__KVA_EXAMPLE");
    EXPECT_EQ(environment_prefix("127.0.0.1:5000"), "MINICD_REGISTRY_127_0_0_1_5000");
    EXPECT_EQ(environment_prefix("localhost:5000"), "MINICD_REGISTRY_LOCALHOST_5000");
    EXPECT_EQ(environment_prefix("[::1]:5000"), "MINICD_REGISTRY____1__5000");
    EXPECT_EQ(environment_prefix("Reg.Example.com"), "MINICD_REGISTRY_REG_EXAMPLE_COM");
    EXPECT_EQ(environment_prefix("index.docker.io"), "MINICD_REGISTRY_DOCKER_IO");
}

TEST(EnvironmentPrefix, HostsWhoseNameCouldBeReadTwiceGetNone) {
    // "_" in a name, empty labels, a label ending in "-", an all-digit last label that is no IPv4
    // address ("a.b.5000" would meet "a.b:5000"), a port that is not digits.
    for (auto host : {"my_registry.local", "a..b", "a-.example", "-a.example", "a.b.5000", "1.2.3:4", "1.2.3.4.5",
                      "reg.example.com:http", "[fe80::1%25eth0]", "[::ffff:1.2.3.4]"}) {
        EXPECT_EQ(environment_prefix(host), std::nullopt) << host;
    }
}

TEST(EnvironmentPrefix, NoTwoHostsShareAName) {
    const std::vector<std::string> hosts = {"a.b", "a-b", "a--b", "a.b:1", "a-b:1", "a.b.c", "a-b.c", "a.b-c",
                                            "1.2.3.4", "1.2.3.4:5", "a.1:2", "a.1.2", "[::1]", "[::1]:1", "[::1:1]",
                                            "[1::1]", "a", "a:1"};
    std::map<std::string, std::string> owners;
    for (const std::string& host : hosts) {
        auto prefix = environment_prefix(host);
        if (!prefix) continue;  // "a.1:2" and "a.1.2" have none: their last label is all digits
        auto [it, fresh] = owners.emplace(*prefix, host);
        EXPECT_TRUE(fresh) << host << " and " << it->second << " both map to " << *prefix;
    }
    EXPECT_EQ(owners.size(), hosts.size() - 2);
}

TEST(RegistryKey, OnlyALeadingSchemeIsDropped) {
    EXPECT_EQ(registry_key("evil.example/https://reg.example.com"), "evil.example");
    EXPECT_EQ(registry_key("HTTPS://Reg.Example.com/v2/"), "reg.example.com");
    EXPECT_EQ(registry_key("http://reg.example.com:5000"), "reg.example.com:5000");
}

TEST(RegistryKey, FoldsUrlsAndDockerHubAliases) {
    EXPECT_EQ(registry_key("https://index.docker.io/v1/"), "docker.io");
    EXPECT_EQ(registry_key("registry-1.docker.io"), "docker.io");
    EXPECT_EQ(registry_key("http://Reg.Example.com:5000/v2/"), "reg.example.com:5000");
    EXPECT_EQ(registry_key("gcr.io"), "gcr.io");
}

}  // namespace
}  // namespace minicd::registry
