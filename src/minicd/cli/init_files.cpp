#include "minicd/cli/init_files.hpp"

#include "minicd/config/template.hpp"

#include <fmt/format.h>

#include <cctype>

namespace minicd::cli {

namespace {

// fmt placeholders: {0} app, {1} registry.
constexpr const char* k_minicd_yaml = R"(# minicd.yaml: how this repository is delivered. One CI step runs `minicd ci`; the Git event picks
# the environments below. Check this file with `minicd config validate`; see what a push would do
# with `minicd ci --explain`.

app: {0}                 # names what minicd owns in the cluster (labels, namespaces)
registry: {1}   # images are pushed as <registry>/<image>:<short commit sha>

images:
  - name: {0}            # the image name your manifests use; minicd pins it to the built digest
    context: .
    dockerfile: Dockerfile

manifests: k8s           # plain YAML or a kustomize directory; a Helm chart instead:
# manifests: {{helm: {{chart: deploy/chart, values: [deploy/values.yaml]}}}}
mainBranch: main         # release tags are promoted only from commits on this branch

environments:
  # Every branch but main gets its own namespace and host; its preview goes when the branch does.
  preview:
    cluster: {{context: dev}}            # kube context; pin it with `minicd env pin preview`
    on: {{branch: "!main"}}
    namespace: "{0}-{{branch}}"
    host: "{{branch}}.preview.example.com"
    tls: {{clusterIssuer: letsencrypt}}  # cert-manager issuer for the preview's certificate
    ttl: 7d                              # previews idle this long are removed too
    gc: {{maxDeletions: 5, branches: remote, remote: origin}}

  # A merge to main is built once and deployed here.
  staging:
    cluster: {{context: staging}}
    on: {{branch: main}}
    namespace: {0}
    # adopt: false                       # true takes over objects Helm, Argo CD, Flux or another app owns
    # history: 10                        # releases kept, each one restorable with `minicd rollback`
    # onFailure: rollback                # failed rollout -> last healthy release; previews: keep
    # drift: report                      # nightly minicd ci: report drift, or fix puts it back

  # A release tag (on main) deploys the exact digest staging ran healthy, without rebuilding.
  production:
    cluster: {{context: production}}
    on: {{tag: "v*"}}
    namespace: {0}
    promoteFrom: staging
    timeout: 10m
    # strategy:                          # canary: the new version on a share of the pods first
    #   canary:
    #     workloads: [{0}]               # Deployments to canary; default: every Deployment
    #     steps:                         # percent of pods on the new version, watched for the pause
    #       - {{weight: 10, pause: 2m}}
    #       - {{weight: 50, pause: 5m}}
    #     analysis:                      # optional: without it a step waits for healthy pods only
    #       prometheus:
    #         address: "http://prometheus.monitoring:9090"
    #         # tokenEnv: PROMETHEUS_TOKEN # NAME of the variable holding a bearer token
    #       interval: 30s                # a measurement of each metric this often during a pause
    #       metrics:
    #         - name: success-rate
    #           query: sum(rate(http_requests_total{{namespace="{{{{namespace}}}}",pod=~"{{{{canary_pods}}}}",code!~"5.."}}[1m])) / sum(rate(http_requests_total{{namespace="{{{{namespace}}}}",pod=~"{{{{canary_pods}}}}"}}[1m]))
    #           successCondition: ">= 0.99"
    #           failureLimit: 1          # failed measurements tolerated
    #       noData: fail                 # fail, pass or inconclusive
)";

constexpr const char* k_github = R"(# minicd delivers every Git event of this repository (see minicd.yaml):
#   push to a branch -> preview, push to main -> staging, tag v* -> production,
#   branch deleted -> its preview is removed, nightly -> staging and production are checked for
#   drift (the job fails, exit 3, when something was changed behind minicd's back; `drift: fix` in
#   minicd.yaml puts it back instead) and previews whose branch is gone are removed.
# Each job gets minicd in one step: the release tarball (make dist) at the repository variable
# MINICD_RELEASE_URL, checked against MINICD_RELEASE_SHA256 (see minicd's README for hosting it).
# The runner brings the image builder (ubuntu-latest has buildah, docker and podman); a kubeconfig
# with the contexts minicd.yaml names comes from the KUBECONFIG_DATA secret.
name: minicd

on:
  push:
    branches: ["**"]
    tags: ["v*"]
  delete:
  schedule:
    - cron: "17 3 * * *"

jobs:
  deliver:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    # The pull request and the Deployments page link to what was deployed: the url output of minicd ci.
    environment:
      name: ${{ github.ref_type == 'tag' && 'production' || github.ref_name == 'main' && 'staging' || format('preview/{0}', github.ref_name) }}
      url: ${{ steps.minicd.outputs.url }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0    # minicd checks that a release tag is on main
      - &get-minicd  # written once, used again below (GitHub reads YAML anchors)
        name: get minicd
        run: |
          curl -fsSL "$MINICD_RELEASE_URL" -o /tmp/minicd.tar.gz
          echo "$MINICD_RELEASE_SHA256  /tmp/minicd.tar.gz" | sha256sum -c -
          mkdir -p /tmp/minicd && tar -xzf /tmp/minicd.tar.gz -C /tmp/minicd --strip-components=1
          echo /tmp/minicd/bin >> "$GITHUB_PATH"
        env:
          MINICD_RELEASE_URL: ${{ vars.MINICD_RELEASE_URL }}
          MINICD_RELEASE_SHA256: ${{ vars.MINICD_RELEASE_SHA256 }}
      - &kubeconfig
        name: kubeconfig
        run: echo "$KUBECONFIG_DATA" > "$RUNNER_TEMP/kubeconfig"
        env:
          KUBECONFIG_DATA: ${{ secrets.KUBECONFIG_DATA }}
      - name: minicd ci
        id: minicd          # outputs: url, environment, release, digest; the step summary tells the rest
        run: minicd ci
        env:
          KUBECONFIG: ${{ runner.temp }}/kubeconfig

  # A deleted branch's preview is torn down, and the nightly run checks drift and collects previews:
  # nothing is deployed, so no environment.
  maintain:
    if: github.event_name != 'push'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - *get-minicd
      - *kubeconfig
      - name: minicd ci (teardown, or drift and preview gc)
        run: minicd ci
        env:
          KUBECONFIG: ${{ runner.temp }}/kubeconfig
)";

constexpr const char* k_gitlab = R"(# minicd delivers every Git event of this repository (see minicd.yaml):
#   push to a branch -> preview, push to main -> staging, tag v* -> production,
#   nightly -> staging and production are checked for drift (the job fails, exit 3, when something
#   was changed behind minicd's back; `drift: fix` in minicd.yaml puts it back instead) and
#   previews whose branch is gone are removed.
# A preview is a GitLab environment (review/<branch>) linked from its merge request: minicd ci
# writes its URL to the dotenv report minicd.env. Stopping the environment, by hand or when the
# branch is deleted, runs stop-preview, which removes the preview.
# For the nightly run, create a pipeline schedule for main (Build > Pipeline schedules, e.g.
# "0 3 * * *"): the nightly job below runs only in scheduled pipelines.
# Each job gets minicd in one step: the release tarball (make dist) at the CI/CD variable
# MINICD_RELEASE_URL, checked against MINICD_RELEASE_SHA256 (see minicd's README for hosting it).
# BUILDER_IMAGE names an image with buildah (or podman), curl and tar; KUBECONFIG is a CI/CD variable
# of type File with the contexts minicd.yaml names.
variables:
  GIT_DEPTH: "0"    # minicd checks that a release tag is on main

default:
  image: $BUILDER_IMAGE
  before_script:
    - curl -fsSL "$MINICD_RELEASE_URL" -o /tmp/minicd.tar.gz
    - echo "$MINICD_RELEASE_SHA256  /tmp/minicd.tar.gz" | sha256sum -c -
    - mkdir -p /tmp/minicd && tar -xzf /tmp/minicd.tar.gz -C /tmp/minicd --strip-components=1
    - export PATH="/tmp/minicd/bin:$PATH"

.minicd-ci:
  script:
    - minicd ci
  artifacts:
    when: always
    reports:
      dotenv: minicd.env   # DYNAMIC_ENVIRONMENT_URL, MINICD_ENVIRONMENT, MINICD_RELEASE, MINICD_DIGEST

minicd:
  extends: .minicd-ci
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
      when: never
    - if: $CI_COMMIT_BRANCH == "main" || $CI_COMMIT_TAG

preview:
  extends: .minicd-ci
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: $DYNAMIC_ENVIRONMENT_URL
    on_stop: stop-preview
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule" || $CI_COMMIT_BRANCH == "main"
      when: never
    - if: $CI_COMMIT_BRANCH

stop-preview:
  script:
    - minicd preview down "$CI_COMMIT_REF_NAME"
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    action: stop
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule" || $CI_COMMIT_BRANCH == "main"
      when: never
    - if: $CI_COMMIT_BRANCH
      when: manual
      allow_failure: true   # a stop job waiting to be run does not hold the pipeline

nightly:
  script:
    - minicd ci
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
)";

constexpr const char* k_circleci = R"(# minicd delivers every Git event of this repository (see minicd.yaml):
#   push to a branch -> preview, push to main -> staging, tag v* -> production,
#   nightly -> previews whose branch is gone are removed, and staging and production are checked
#   for drift (the job fails, exit 3, when something was changed behind minicd's back).
# CircleCI does not tell a job that a schedule started it, and `minicd ci` would read the nightly
# run as a push to main, so the nightly job runs what a scheduled `minicd ci` runs elsewhere:
# `minicd preview gc`, then `minicd drift` (add --fix to put drift back; minicd.yaml's `drift:`
# is read by `minicd ci` only).
# Each job gets minicd in one step: the release tarball (make dist) at the project variable
# MINICD_RELEASE_URL, checked against MINICD_RELEASE_SHA256 (see minicd's README for hosting it).
# BUILDER_IMAGE names an image with buildah (or podman), curl and tar; KUBECONFIG_DATA (a project
# environment variable) holds a kubeconfig with the contexts minicd.yaml names.
version: 2.1

executors:
  minicd:
    docker:
      - image: $BUILDER_IMAGE

commands:
  get-minicd:
    steps:
      - run:
          name: get minicd
          command: |
            curl -fsSL "$MINICD_RELEASE_URL" -o /tmp/minicd.tar.gz
            echo "$MINICD_RELEASE_SHA256  /tmp/minicd.tar.gz" | sha256sum -c -
            mkdir -p /tmp/minicd && tar -xzf /tmp/minicd.tar.gz -C /tmp/minicd --strip-components=1
            echo 'export PATH="/tmp/minicd/bin:$PATH"' >> "$BASH_ENV"
  kubeconfig:
    steps:
      - run:
          name: kubeconfig
          command: |
            echo "$KUBECONFIG_DATA" > "$HOME/kubeconfig"
            echo 'export KUBECONFIG="$HOME/kubeconfig"' >> "$BASH_ENV"

jobs:
  deliver:
    executor: minicd
    steps:
      - checkout
      - get-minicd
      - kubeconfig
      - run:
          name: minicd ci
          command: minicd ci   # writes the run's Markdown summary to /tmp/minicd/summary.md
      - store_artifacts:
          path: /tmp/minicd
          destination: minicd
  nightly:
    executor: minicd
    steps:
      - checkout
      - get-minicd
      - kubeconfig
      - run:
          name: minicd preview gc
          command: minicd preview gc
      - run:
          name: minicd drift
          command: minicd drift
          when: always

workflows:
  deliver:
    jobs:
      - deliver:
          filters:
            tags:
              only: /^v.*/
  nightly:
    triggers:
      - schedule:
          cron: "17 3 * * *"
          filters:
            branches:
              only: [main]
    jobs:
      - nightly
)";

}  // namespace

Result<CiSystem> parse_ci_system(std::string_view name) {
    if (name == "github") return CiSystem::github;
    if (name == "gitlab") return CiSystem::gitlab;
    if (name == "circleci") return CiSystem::circleci;
    return fail(util::ErrorCode::input, fmt::format("unknown CI system \"{}\": choose github, gitlab or circleci", name));
}

Result<std::vector<InitFile>> init_files(const InitRequest& request) {
    // The app names namespaces with room left for the environment or branch suffix.
    const std::string& app = request.app;
    if (app.size() > 40 || !config::is_dns_label(app) || !std::isalpha(static_cast<unsigned char>(app.front()))) {
        return fail(util::ErrorCode::input,
                    fmt::format("app \"{}\" must be a DNS label of at most 40 characters starting with a letter "
                                "(lowercase letters, digits, '-'), as it names namespaces",
                                request.app));
    }
    if (request.registry.empty() || request.registry.find_first_of(" \t\n\"'#") != std::string::npos) {
        return fail(util::ErrorCode::input, fmt::format("registry \"{}\" is not a repository prefix such as ghcr.io/acme",
                                                        request.registry));
    }
    std::vector<InitFile> files{{"minicd.yaml", fmt::format(k_minicd_yaml, request.app, request.registry)}};
    switch (request.ci) {
        case CiSystem::github: files.push_back({".github/workflows/minicd.yml", k_github}); break;
        case CiSystem::gitlab: files.push_back({".gitlab-ci.yml", k_gitlab}); break;
        case CiSystem::circleci: files.push_back({".circleci/config.yml", k_circleci}); break;
    }
    return files;
}

}  // namespace minicd::cli
