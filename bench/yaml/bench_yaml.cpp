// Measures libfyaml against yaml-cpp on a Kubernetes-shaped multi-document stream,
// and checks that each can tell a quoted scalar from a plain one.

#include <libfyaml.h>
#include <yaml-cpp/yaml.h>

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

constexpr std::uint64_t k_seed = 0x6d696e6963642d31;
constexpr std::size_t k_default_docs = 5000;
constexpr std::size_t k_default_reps = 7;
constexpr double k_bytes_per_mb = 1e6;
constexpr std::string_view k_style_probe = "a: yes\nb: \"yes\"\nc: 'yes'";

constexpr std::array<std::string_view, 12> k_app_words = {
    "checkout", "cart",    "payments", "catalog", "search",  "ledger",
    "gateway",  "billing", "profile",  "notify",  "reports", "inventory"};
constexpr std::array<std::string_view, 4> k_systems = {"shop", "platform", "data", "edge"};
constexpr std::array<std::string_view, 3> k_tiers = {"frontend", "backend", "worker"};
constexpr std::array<std::string_view, 4> k_log_levels = {"debug", "info", "warn", "error"};
// Mixes quoted and plain spellings of YAML 1.1 booleans, the case minicd must not silently coerce.
constexpr std::array<std::string_view, 6> k_flag_values = {"\"yes\"", "yes", "'no'", "no", "\"true\"", "on"};
constexpr std::array<std::string_view, 3> k_target_ports = {"8080", "'8080'", "http"};
constexpr std::array<std::string_view, 3> k_service_types = {"ClusterIP", "NodePort", "LoadBalancer"};
constexpr std::array<std::string_view, 3> k_file_modes = {"0777", "0644", "420"};

struct EnvSample {
    std::string_view name;
    std::string_view value;
};

// Plain 0777 / 1e3 / yes next to their quoted twins: same text, different YAML types.
constexpr std::array<EnvSample, 13> k_env_samples = {{
    {"FEATURE_FLAG", "\"yes\""},
    {"ENABLE_CACHE", "yes"},
    {"LISTEN_PORT", "'8080'"},
    {"UMASK", "\"0777\""},
    {"FILE_MODE", "0777"},
    {"MAX_QPS", "1e3"},
    {"MAX_QPS_TEXT", "\"1e3\""},
    {"LOG_LEVEL", "info"},
    {"API_URL", "\"https://api.example.com/v1?tenant=a&region=eu-west-1\""},
    {"GREETING", "'it''s ready'"},
    {"BANNER", "\"line one\\nline two\""},
    {"EMPTY", "\"\""},
    {"JAVA_OPTS", "-Xms256m -Xmx512m -XX:+UseG1GC"},
}};

class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}

    // mt19937_64 output is fixed by the standard but distributions are not, so bound it by hand.
    std::size_t below(std::size_t bound) { return static_cast<std::size_t>(engine_() % bound); }

    template <std::size_t N>
    std::string_view pick(const std::array<std::string_view, N>& items) {
        return items[below(N)];
    }

private:
    std::mt19937_64 engine_;
};

using Out = std::back_insert_iterator<std::string>;

void append_container(std::string& out, Rng& rng, std::string_view name, std::string_view image,
                      std::string_view ns, int port) {
    fmt::format_to(Out(out), R"(        - name: {name}
          image: registry.example.com/{ns}/{image}:1.{minor}.{patch}
          imagePullPolicy: IfNotPresent
          args: ["--port={port}", "--log-level={level}"]
          ports:
            - name: http
              containerPort: {port}
              protocol: TCP
          env:
)",
                   fmt::arg("name", name), fmt::arg("ns", ns), fmt::arg("image", image),
                   fmt::arg("minor", rng.below(30)), fmt::arg("patch", rng.below(100)),
                   fmt::arg("port", port), fmt::arg("level", rng.pick(k_log_levels)));
    const std::size_t env_count = 3 + rng.below(6);
    for (std::size_t i = 0; i < env_count; ++i) {
        const EnvSample& sample = k_env_samples[rng.below(k_env_samples.size())];
        fmt::format_to(Out(out), "            - name: {}\n              value: {}\n", sample.name,
                       sample.value);
    }
    fmt::format_to(Out(out), R"(            - name: POD_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
          resources:
            requests: {{cpu: {cpu}m, memory: {memory}Mi}}
            limits:
              cpu: "{cpu_limit}"
              memory: {memory_limit}Mi
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: {delay}
            periodSeconds: 15
          readinessProbe:
            exec:
              command:
                - /bin/sh
                - -c
                - "test -f /tmp/ready && echo ok"
            failureThreshold: 3
          volumeMounts:
            - name: config
              mountPath: /etc/{name}
              readOnly: true
)",
                   fmt::arg("cpu", 50 * (1 + rng.below(8))), fmt::arg("memory", 64 * (1 + rng.below(8))),
                   fmt::arg("cpu_limit", 1 + rng.below(4)),
                   fmt::arg("memory_limit", 256 * (1 + rng.below(8))),
                   fmt::arg("delay", 5 * (1 + rng.below(6))), fmt::arg("name", name));
}

void append_deployment(std::string& out, Rng& rng, std::string_view app, std::string_view ns) {
    fmt::format_to(Out(out), R"(---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {ns}
  creationTimestamp: null
  labels:
    app.kubernetes.io/name: {app}
    app.kubernetes.io/part-of: {system}
    app.kubernetes.io/version: "2.{minor}.0"
    tier: {tier}
    canary: {canary}
  annotations:
    deployment.kubernetes.io/revision: "{revision}"
    minicd.io/sync-wave: '{wave}'
    minicd.io/owner: "{ns}@example.com"
    kubectl.kubernetes.io/last-applied-configuration: '{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"{app}","namespace":"{ns}"}}}}'
spec:
  replicas: {replicas}
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app.kubernetes.io/name: {app}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {app}
        tier: {tier}
    spec:
      serviceAccountName: {app}
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 2000
      containers:
)",
                   fmt::arg("app", app), fmt::arg("ns", ns), fmt::arg("system", rng.pick(k_systems)),
                   fmt::arg("minor", rng.below(20)), fmt::arg("tier", rng.pick(k_tiers)),
                   fmt::arg("canary", rng.pick(k_flag_values)), fmt::arg("revision", 1 + rng.below(40)),
                   fmt::arg("wave", rng.below(5)), fmt::arg("replicas", 1 + rng.below(6)));
    append_container(out, rng, "app", app, ns, 8080);
    append_container(out, rng, "proxy", "envoy", ns, 9901);
    fmt::format_to(Out(out), R"(      volumes:
        - name: config
          configMap:
            name: {app}-config
            defaultMode: {mode}
)",
                   fmt::arg("app", app), fmt::arg("mode", rng.pick(k_file_modes)));
}

void append_service(std::string& out, Rng& rng, std::string_view app, std::string_view ns) {
    fmt::format_to(Out(out), R"(---
apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {app}
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-internal: "true"
    minicd.io/expose: {expose}
spec:
  type: {type}
  selector:
    app.kubernetes.io/name: {app}
  ports:
    - name: http
      port: 80
      targetPort: {target}
      protocol: TCP
    - name: metrics
      port: 9090
      targetPort: 9090
)",
                   fmt::arg("app", app), fmt::arg("ns", ns), fmt::arg("expose", rng.pick(k_flag_values)),
                   fmt::arg("type", rng.pick(k_service_types)), fmt::arg("target", rng.pick(k_target_ports)));
}

void append_config_map(std::string& out, Rng& rng, std::string_view app, std::string_view ns) {
    fmt::format_to(Out(out), R"(---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}-config
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {app}
data:
  log_level: {level}
  feature_enabled: {flag}
  umask: {umask}
  max_qps: {qps}
  port: {port}
  application.properties: |
    # generated for {app}
)",
                   fmt::arg("app", app), fmt::arg("ns", ns), fmt::arg("level", rng.pick(k_log_levels)),
                   fmt::arg("flag", rng.pick(k_flag_values)),
                   fmt::arg("umask", rng.below(2) == 0 ? "0777" : "\"0777\""),
                   fmt::arg("qps", rng.below(2) == 0 ? "1e3" : "\"1e3\""),
                   fmt::arg("port", rng.below(2) == 0 ? "8080" : "'8080'"));
    const std::size_t property_count = 5 + rng.below(26);
    for (std::size_t i = 0; i < property_count; ++i) {
        fmt::format_to(Out(out), "    {}.setting.{}=value-{}\n", app, i, rng.below(1000000));
    }
    fmt::format_to(Out(out), R"(  nginx.conf: |-
    server {{
      listen 80;
      location / {{
        proxy_pass http://{app}:8080;
        proxy_set_header Host $host;
      }}
    }}
  motd: >
    Welcome to {app} in {ns}. This paragraph is folded
    by the YAML parser into a single line, while the
    blank line below starts a new one.

    Support: #{ns} on chat.
  script.sh: |+
    #!/bin/sh
    set -eu
    exec /app/{app} --config /etc/app/application.properties "$@"

)",
                   fmt::arg("app", app), fmt::arg("ns", ns));
}

std::string generate_stream(std::size_t doc_count) {
    Rng rng(k_seed);
    std::string out;
    for (std::size_t index = 0; index < doc_count; ++index) {
        const std::string app = fmt::format("{}-{:04}", rng.pick(k_app_words), index);
        const std::string ns = fmt::format("team-{}", rng.below(12));
        const std::size_t kind = rng.below(10);
        if (kind < 4) {
            append_deployment(out, rng, app, ns);
        } else if (kind < 7) {
            append_service(out, rng, app, ns);
        } else {
            append_config_map(out, rng, app, ns);
        }
    }
    return out;
}

// yaml-cpp turns these plain spellings into Null nodes, so both walkers classify them the same way.
bool is_null_spelling(std::string_view text) {
    return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

struct NonPlainSplit {
    std::size_t quoted = 0;
    std::size_t block = 0;
};

struct TreeStats {
    std::size_t documents = 0;
    std::size_t collections = 0;
    std::size_t scalars = 0;
    std::size_t plain = 0;
    std::size_t non_plain = 0;
    std::size_t nulls = 0;
    std::size_t scalar_bytes = 0;
    // Only libfyaml exposes the exact style, so yaml-cpp leaves this empty.
    std::optional<NonPlainSplit> split;
};

bool same_counts(const TreeStats& a, const TreeStats& b) {
    return a.documents == b.documents && a.collections == b.collections && a.scalars == b.scalars &&
           a.plain == b.plain && a.non_plain == b.non_plain && a.nulls == b.nulls &&
           a.scalar_bytes == b.scalar_bytes;
}

void walk_fy(fy_node* node, TreeStats& stats) {
    // A missing node is an empty value, which yaml-cpp reports as a Null node.
    if (node == nullptr) {
        ++stats.scalars;
        ++stats.plain;
        ++stats.nulls;
        return;
    }
    switch (fy_node_get_type(node)) {
    case FYNT_SCALAR: {
        std::size_t length = 0;
        const char* text = fy_node_get_scalar(node, &length);
        const fy_node_style style = fy_node_get_style(node);
        ++stats.scalars;
        if (style == FYNS_PLAIN) {
            ++stats.plain;
            if (is_null_spelling(std::string_view(text, length))) {
                ++stats.nulls;
                return;
            }
        } else {
            ++stats.non_plain;
            if (style == FYNS_SINGLE_QUOTED || style == FYNS_DOUBLE_QUOTED) {
                ++stats.split->quoted;
            } else {
                ++stats.split->block;
            }
        }
        stats.scalar_bytes += length;
        return;
    }
    case FYNT_SEQUENCE: {
        ++stats.collections;
        void* iter = nullptr;
        while (fy_node* item = fy_node_sequence_iterate(node, &iter)) {
            walk_fy(item, stats);
        }
        return;
    }
    case FYNT_MAPPING: {
        ++stats.collections;
        void* iter = nullptr;
        while (fy_node_pair* pair = fy_node_mapping_iterate(node, &iter)) {
            walk_fy(fy_node_pair_key(pair), stats);
            walk_fy(fy_node_pair_value(pair), stats);
        }
        return;
    }
    }
}

void walk_yaml_cpp(const YAML::Node& node, TreeStats& stats) {
    switch (node.Type()) {
    case YAML::NodeType::Null:
        ++stats.scalars;
        ++stats.plain;
        ++stats.nulls;
        return;
    case YAML::NodeType::Scalar:
        ++stats.scalars;
        // yaml-cpp records only the non-specific tag: "?" for plain, "!" for every other style.
        if (node.Tag() == "?") {
            ++stats.plain;
        } else {
            ++stats.non_plain;
        }
        stats.scalar_bytes += node.Scalar().size();
        return;
    case YAML::NodeType::Sequence:
        ++stats.collections;
        for (const auto& item : node) {
            walk_yaml_cpp(item, stats);
        }
        return;
    case YAML::NodeType::Map:
        ++stats.collections;
        for (const auto& item : node) {
            walk_yaml_cpp(item.first, stats);
            walk_yaml_cpp(item.second, stats);
        }
        return;
    case YAML::NodeType::Undefined:
        throw std::runtime_error("yaml-cpp produced an undefined node");
    }
}

struct FyParserDeleter {
    void operator()(fy_parser* parser) const { fy_parser_destroy(parser); }
};

struct FyDocumentDeleter {
    void operator()(fy_document* document) const { fy_document_destroy(document); }
};

// Owns a parser and every document it loaded; documents must be released before their parser.
class FyStream {
public:
    explicit FyStream(const std::string& input) {
        const fy_parse_cfg cfg{};
        parser_.reset(fy_parser_create(&cfg));
        if (!parser_ || fy_parser_set_string(parser_.get(), input.data(), input.size()) != 0) {
            throw std::runtime_error("libfyaml: cannot set up the parser");
        }
        while (fy_document* document = fy_parse_load_document(parser_.get())) {
            documents_.push_back(document);
        }
        if (fy_parser_get_stream_error(parser_.get())) {
            release();
            throw std::runtime_error("libfyaml: parse error in the stream");
        }
    }

    FyStream(const FyStream&) = delete;
    FyStream& operator=(const FyStream&) = delete;

    ~FyStream() { release(); }

    const std::vector<fy_document*>& documents() const { return documents_; }

    void release() {
        for (fy_document* document : documents_) {
            fy_parse_document_destroy(parser_.get(), document);
        }
        documents_.clear();
        parser_.reset();
    }

private:
    std::unique_ptr<fy_parser, FyParserDeleter> parser_;
    std::vector<fy_document*> documents_;
};

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

struct RunResult {
    double parse_ms = 0;
    double walk_ms = 0;
    double teardown_ms = 0;
    TreeStats stats;

    double total_ms() const { return parse_ms + walk_ms + teardown_ms; }
};

RunResult run_libfyaml(const std::string& input) {
    RunResult result;
    result.stats.split = NonPlainSplit{};
    const auto start = Clock::now();
    FyStream stream(input);
    const auto parsed = Clock::now();
    for (fy_document* document : stream.documents()) {
        ++result.stats.documents;
        walk_fy(fy_document_root(document), result.stats);
    }
    const auto walked = Clock::now();
    stream.release();
    const auto released = Clock::now();
    result.parse_ms = elapsed_ms(start, parsed);
    result.walk_ms = elapsed_ms(parsed, walked);
    result.teardown_ms = elapsed_ms(walked, released);
    return result;
}

RunResult run_yaml_cpp(const std::string& input) {
    RunResult result;
    const auto start = Clock::now();
    std::vector<YAML::Node> documents = YAML::LoadAll(input);
    const auto parsed = Clock::now();
    for (const YAML::Node& document : documents) {
        ++result.stats.documents;
        walk_yaml_cpp(document, result.stats);
    }
    const auto walked = Clock::now();
    documents.clear();
    const auto released = Clock::now();
    result.parse_ms = elapsed_ms(start, parsed);
    result.walk_ms = elapsed_ms(parsed, walked);
    result.teardown_ms = elapsed_ms(walked, released);
    return result;
}

struct StyleCheck {
    std::array<std::string, 3> observed;
    bool ok = false;
};

std::string_view fy_style_name(fy_node_style style) {
    switch (style) {
    case FYNS_PLAIN:
        return "plain";
    case FYNS_SINGLE_QUOTED:
        return "single-quoted";
    case FYNS_DOUBLE_QUOTED:
        return "double-quoted";
    case FYNS_LITERAL:
        return "literal";
    case FYNS_FOLDED:
        return "folded";
    default:
        return "other";
    }
}

constexpr std::array<const char*, 3> k_probe_keys = {"a", "b", "c"};

StyleCheck check_libfyaml_styles() {
    const fy_parse_cfg cfg{};
    const std::unique_ptr<fy_document, FyDocumentDeleter> document(
        fy_document_build_from_string(&cfg, k_style_probe.data(), k_style_probe.size()));
    if (!document) {
        throw std::runtime_error("libfyaml: cannot parse the style probe");
    }
    constexpr std::array<fy_node_style, 3> expected = {FYNS_PLAIN, FYNS_DOUBLE_QUOTED, FYNS_SINGLE_QUOTED};
    StyleCheck check;
    check.ok = true;
    for (std::size_t i = 0; i < k_probe_keys.size(); ++i) {
        fy_node* value = fy_node_mapping_lookup_by_string(fy_document_root(document.get()), k_probe_keys[i],
                                                          FY_NT);
        // fy_node_get_style(nullptr) answers "plain", so a missing key must not pass as one.
        if (value == nullptr) {
            check.observed[i] = "missing";
            check.ok = false;
            continue;
        }
        const fy_node_style style = fy_node_get_style(value);
        check.observed[i] = fy_style_name(style);
        check.ok = check.ok && style == expected[i];
    }
    return check;
}

StyleCheck check_yaml_cpp_styles() {
    const YAML::Node root = YAML::Load(std::string(k_style_probe));
    constexpr std::array<std::string_view, 3> expected = {"?", "!", "!"};
    StyleCheck check;
    check.ok = true;
    for (std::size_t i = 0; i < k_probe_keys.size(); ++i) {
        const YAML::Node value = root[k_probe_keys[i]];
        if (!value.IsScalar()) {
            check.observed[i] = "missing";
            check.ok = false;
            continue;
        }
        const bool plain = value.Tag() == "?";
        check.observed[i] = fmt::format("tag `{}` ({})", value.Tag(), plain ? "plain" : "non-plain");
        check.ok = check.ok && value.Tag() == expected[i];
    }
    return check;
}

struct Summary {
    double median_ms = 0;
    double best_ms = 0;
    double median_parse_ms = 0;
    double median_walk_ms = 0;
    double median_teardown_ms = 0;
};

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

Summary summarize(const std::vector<RunResult>& runs) {
    std::vector<double> totals;
    std::vector<double> parses;
    std::vector<double> walks;
    std::vector<double> teardowns;
    for (const RunResult& run : runs) {
        totals.push_back(run.total_ms());
        parses.push_back(run.parse_ms);
        walks.push_back(run.walk_ms);
        teardowns.push_back(run.teardown_ms);
    }
    Summary summary;
    summary.median_ms = median(totals);
    summary.best_ms = *std::min_element(totals.begin(), totals.end());
    summary.median_parse_ms = median(parses);
    summary.median_walk_ms = median(walks);
    summary.median_teardown_ms = median(teardowns);
    return summary;
}

double mb_per_s(std::size_t bytes, double ms) {
    return static_cast<double>(bytes) / k_bytes_per_mb / (ms / 1000.0);
}

struct Options {
    std::size_t docs = k_default_docs;
    std::size_t reps = k_default_reps;
    bool help = false;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::size_t parse_count(std::string_view flag, std::string_view text) {
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value == 0) {
        throw UsageError(fmt::format("{} expects a positive integer, got '{}'", flag, text));
    }
    return value;
}

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            options.help = true;
        } else if (arg == "--docs" || arg == "--reps") {
            if (i + 1 >= argc) {
                throw UsageError(fmt::format("{} needs a value", arg));
            }
            (arg == "--docs" ? options.docs : options.reps) = parse_count(arg, argv[++i]);
        } else {
            throw UsageError(fmt::format("unknown argument '{}'", arg));
        }
    }
    return options;
}

void print_usage(std::FILE* stream) {
    fmt::print(stream,
               "usage: bench_yaml [--docs N] [--reps R]\n"
               "  --docs N  documents in the generated stream (default {})\n"
               "  --reps R  timed repetitions per library (default {})\n",
               k_default_docs, k_default_reps);
}

std::string split_cell(const TreeStats& stats, std::size_t NonPlainSplit::*field) {
    return stats.split ? fmt::format("{}", (*stats.split).*field) : std::string("n/a");
}

int run(const Options& options) {
    const std::string fyaml_version = fmt::format("libfyaml {}", fy_library_version());
    const std::string yaml_cpp_version = fmt::format("yaml-cpp {}", BENCH_YAML_CPP_VERSION);

    fmt::print("# YAML library benchmark\n\n");

    const StyleCheck fy_check = check_libfyaml_styles();
    const StyleCheck cpp_check = check_yaml_cpp_styles();
    fmt::print("## Quoted vs plain check on `a: yes` / `b: \"yes\"` / `c: 'yes'`\n\n");
    fmt::print("| library | a | b | c | result |\n|---|---|---|---|---|\n");
    for (const auto& [name, check] : {std::pair{&fyaml_version, &fy_check}, std::pair{&yaml_cpp_version, &cpp_check}}) {
        fmt::print("| {} | {} | {} | {} | {} |\n", *name, check->observed[0], check->observed[1],
                   check->observed[2], check->ok ? "ok" : "FAIL");
    }

    const std::string input = generate_stream(options.docs);
    fmt::print("\n## Input\n\n{} documents, {} bytes ({:.2f} MB), seed {:#x}, {} timed reps per library\n",
               options.docs, input.size(), static_cast<double>(input.size()) / k_bytes_per_mb, k_seed,
               options.reps);

    // The untimed first run warms caches and the allocator and gives the reference counts.
    const TreeStats fy_reference = run_libfyaml(input).stats;
    const TreeStats cpp_reference = run_yaml_cpp(input).stats;
    const bool counts_agree = same_counts(fy_reference, cpp_reference) && fy_reference.documents == options.docs;

    fmt::print("\n## Tree walk counts\n\n");
    fmt::print("| library | documents | collections | scalars | plain | non-plain | quoted | block | nulls | "
               "scalar bytes |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& [name, stats] :
         {std::pair{&fyaml_version, &fy_reference}, std::pair{&yaml_cpp_version, &cpp_reference}}) {
        fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", *name, stats->documents,
                   stats->collections, stats->scalars, stats->plain, stats->non_plain,
                   split_cell(*stats, &NonPlainSplit::quoted), split_cell(*stats, &NonPlainSplit::block),
                   stats->nulls, stats->scalar_bytes);
    }
    fmt::print("\ncounts agree: {}\n", counts_agree ? "yes" : "NO");

    std::vector<RunResult> fy_runs;
    std::vector<RunResult> cpp_runs;
    bool runs_stable = true;
    for (std::size_t rep = 0; rep < options.reps; ++rep) {
        // Alternating which library goes first keeps heap and cache state from favouring one.
        const bool fy_first = rep % 2 == 0;
        if (fy_first) {
            fy_runs.push_back(run_libfyaml(input));
        }
        cpp_runs.push_back(run_yaml_cpp(input));
        if (!fy_first) {
            fy_runs.push_back(run_libfyaml(input));
        }
        runs_stable = runs_stable && same_counts(fy_runs.back().stats, fy_reference) &&
                      same_counts(cpp_runs.back().stats, cpp_reference);
    }

    const Summary fy_summary = summarize(fy_runs);
    const Summary cpp_summary = summarize(cpp_runs);
    fmt::print("\n## Timing: parse whole stream + walk every node + free (ms, MB = 10^6 bytes)\n\n");
    fmt::print("| library | median ms | best ms | MB/s (median) | MB/s (best) | parse ms | walk ms | free ms |\n"
               "|---|---|---|---|---|---|---|---|\n");
    for (const auto& [name, summary] :
         {std::pair{&fyaml_version, &fy_summary}, std::pair{&yaml_cpp_version, &cpp_summary}}) {
        fmt::print("| {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} |\n", *name,
                   summary->median_ms, summary->best_ms, mb_per_s(input.size(), summary->median_ms),
                   mb_per_s(input.size(), summary->best_ms), summary->median_parse_ms, summary->median_walk_ms,
                   summary->median_teardown_ms);
    }
    fmt::print("\nparse/walk/free columns are per-phase medians.\n");
    fmt::print("ratio libfyaml/yaml-cpp, median time: {:.3f} (best time: {:.3f})\n",
               fy_summary.median_ms / cpp_summary.median_ms, fy_summary.best_ms / cpp_summary.best_ms);

    const bool ok = fy_check.ok && cpp_check.ok && counts_agree && runs_stable;
    fmt::print("\nchecks: {}\n", ok ? "passed" : "FAILED");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options options = parse_options(argc, argv);
        if (options.help) {
            print_usage(stdout);
            return 0;
        }
        return run(options);
    } catch (const UsageError& error) {
        fmt::print(stderr, "bench_yaml: {}\n", error.what());
        print_usage(stderr);
        return 2;
    } catch (const std::exception& error) {
        fmt::print(stderr, "bench_yaml: {}\n", error.what());
        return 1;
    }
}
