// helm's own behaviour is tested end to end (tests/e2e/helm_e2e_test.cpp, with the helm testenv
// builds); these cover what a real helm cannot be made to do on demand: be missing, be too old, or
// print a version nobody can read. Those stand-ins are named fake_helm.
#include "minicd/source/helm.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "support/scripts.hpp"
#include "support/temp_dir.hpp"

namespace minicd::source {
namespace {

// PATH set to `dirs` for one test, then restored.
class ScopedPath {
public:
    explicit ScopedPath(const std::string& dirs) {
        if (const char* old = std::getenv("PATH")) m_old = old;
        ::setenv("PATH", dirs.c_str(), 1);
    }
    ~ScopedPath() {
        if (m_old) {
            ::setenv("PATH", m_old->c_str(), 1);
        } else {
            ::unsetenv("PATH");
        }
    }
    ScopedPath(const ScopedPath&) = delete;
    ScopedPath& operator=(const ScopedPath&) = delete;

private:
    std::optional<std::string> m_old;
};

ChartRender chart(const std::string& dir) { return {.chart = dir, .release = "shop", .namespace_ = "shop-staging"}; }

// A helm in `dir` whose `version` prints `version`, and that fails the test if asked to render.
void fake_helm(const std::string& dir, const std::string& version) {
    testing::write_script(dir, "helm", "if [ \"$1\" = version ]; then printf '%s' '" + version +
                                           "'; exit 0; fi\necho 'rendered by a helm too old' >&2; exit 1");
}

TEST(Helm, MissingHelmSaysWhichVersionIsNeeded) {
    testing::TempDir empty;
    ScopedPath path(empty.path() + ":" + empty.path("nothing-here"));
    auto rendered = render_chart(chart(empty.path()));
    ASSERT_FALSE(rendered);
    EXPECT_EQ(rendered.error().code, util::ErrorCode::input);
    EXPECT_EQ(rendered.error().message, "helm is not installed (not found in PATH): minicd renders charts with helm v3.8.0 or newer");
}

TEST(Helm, TooOldHelmIsRefusedBeforeRendering) {
    testing::TempDir dir;
    fake_helm(dir.path("bin"), "v3.7.2");
    ScopedPath path(dir.path("bin"));
    auto rendered = render_chart(chart(dir.path()));
    ASSERT_FALSE(rendered);
    EXPECT_EQ(rendered.error().code, util::ErrorCode::input);
    EXPECT_EQ(rendered.error().message, "helm v3.7.2 is too old: minicd renders charts with helm v3.8.0 or newer");
    EXPECT_EQ(rendered.error().subject, dir.path("bin/helm"));
}

TEST(Helm, UnreadableVersionIsRefused) {
    testing::TempDir dir;
    fake_helm(dir.path("bin"), "Client: &version.Version{SemVer:\"v2.17.0\"}");
    ScopedPath path(dir.path("bin"));
    auto rendered = render_chart(chart(dir.path()));
    ASSERT_FALSE(rendered);
    EXPECT_NE(rendered.error().message.find("cannot read a version from `helm version`"), std::string::npos)
        << rendered.error().message;
}

TEST(Helm, NewEnoughVersionsAreAccepted) {
    // Accepted versions go on to render: the fake's refusal to render shows the check passed.
    for (const std::string version : {"v3.8.0", "v3.19.1", "v4.3.2", "v4.0.0-rc.1"}) {
        testing::TempDir dir;
        fake_helm(dir.path("bin"), version);
        ScopedPath path(dir.path("bin"));
        auto rendered = render_chart(chart(dir.path()));
        ASSERT_FALSE(rendered);
        EXPECT_NE(rendered.error().message.find("rendered by a helm too old"), std::string::npos)
            << version << ": " << rendered.error().describe();
    }
}

TEST(Helm, SetValuesAreEscapedForHelm) {
    EXPECT_EQ(helm_set_value("plain"), "plain");
    EXPECT_EQ(helm_set_value("a,b"), "a\\,b");
    EXPECT_EQ(helm_set_value("C:\\dir"), "C:\\\\dir");
    EXPECT_EQ(helm_set_value(""), "");
}

}  // namespace
}  // namespace minicd::source
