// The floor for applying N objects: one server-side-apply PATCH per object, P in flight over
// HTTP/2, nothing else (no discovery, no reads, no dry runs). Whatever a real apply tool costs on
// top of this is its own overhead.
//
//   ssa_floor --server URL --pki DIR --namespace NS --bodies FILE [--parallel P] [--connections C]
//
// FILE is gen_manifests.py's floor.json: [{"path": "/api/v1/namespaces/{ns}/...", "body": {...}}].
// DIR holds ca.crt, admin.crt and admin.key (the testenv's MINICD_TEST_PKI).
// Prints one JSON line with counts and the program's own elapsed time; exits 1 if any PATCH failed.
#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

struct Options {
    std::string server;
    std::string pki;
    std::string namespace_;
    std::string bodies;
    long parallel = 8;
    long connections = 1;
};

struct Request {
    std::string url;
    std::string body;
};

// One easy handle per in-flight slot, reused for the next request when it finishes.
struct Slot {
    CURL* handle = nullptr;
    curl_slist* headers = nullptr;
    std::size_t index = 0;
    std::string response;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "ssa_floor: %s\nusage: ssa_floor --server URL --pki DIR --namespace NS --bodies FILE "
                         "[--parallel P] [--connections C]\n", why);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (i + 1 >= argc) usage(("missing value for " + flag).c_str());
        std::string value = argv[++i];
        if (flag == "--server") options.server = value;
        else if (flag == "--pki") options.pki = value;
        else if (flag == "--namespace") options.namespace_ = value;
        else if (flag == "--bodies") options.bodies = value;
        else if (flag == "--parallel") options.parallel = std::stol(value);
        else if (flag == "--connections") options.connections = std::stol(value);
        else usage(("unknown flag " + flag).c_str());
    }
    if (options.server.empty() || options.pki.empty() || options.namespace_.empty() || options.bodies.empty()) {
        usage("--server, --pki, --namespace and --bodies are required");
    }
    if (options.parallel < 1 || options.connections < 1) usage("--parallel and --connections must be >= 1");
    return options;
}

// Paths carry "{ns}"; bodies get the namespace too, as kubectl and minicd send it.
std::vector<Request> load(const Options& options) {
    std::ifstream in(options.bodies);
    if (!in) usage(("cannot read " + options.bodies).c_str());
    nlohmann::json all = nlohmann::json::parse(in);
    std::vector<Request> requests;
    requests.reserve(all.size());
    for (auto& entry : all) {
        std::string path = entry.at("path").get<std::string>();
        if (auto at = path.find("{ns}"); at != std::string::npos) path.replace(at, 4, options.namespace_);
        nlohmann::json body = entry.at("body");
        body["metadata"]["namespace"] = options.namespace_;
        requests.push_back({options.server + path + "?fieldManager=floor&force=true", body.dump()});
    }
    return requests;
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

void prepare(Slot& slot, const Options& options, const Request& request, std::size_t index) {
    slot.index = index;
    slot.response.clear();
    curl_easy_setopt(slot.handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(slot.handle, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(slot.handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(slot.handle, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(slot.handle, CURLOPT_HTTPHEADER, slot.headers);
    curl_easy_setopt(slot.handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // With one connection, wait for it and multiplex instead of opening one per request.
    curl_easy_setopt(slot.handle, CURLOPT_PIPEWAIT, options.connections == 1 ? 1L : 0L);
    curl_easy_setopt(slot.handle, CURLOPT_CAINFO, (options.pki + "/ca.crt").c_str());
    curl_easy_setopt(slot.handle, CURLOPT_SSLCERT, (options.pki + "/admin.crt").c_str());
    curl_easy_setopt(slot.handle, CURLOPT_SSLKEY, (options.pki + "/admin.key").c_str());
    curl_easy_setopt(slot.handle, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(slot.handle, CURLOPT_WRITEDATA, &slot.response);
    curl_easy_setopt(slot.handle, CURLOPT_PRIVATE, &slot);
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse(argc, argv);
    std::vector<Request> requests = load(options);
    auto started = std::chrono::steady_clock::now();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.connections);

    std::size_t width = std::min<std::size_t>(static_cast<std::size_t>(options.parallel), requests.size());
    std::vector<Slot> slots(width);
    std::size_t next = 0;
    for (auto& slot : slots) {
        slot.handle = curl_easy_init();
        slot.headers = curl_slist_append(nullptr, "Content-Type: application/apply-patch+yaml");
        slot.headers = curl_slist_append(slot.headers, "Accept: application/json");
        prepare(slot, options, requests[next], next);
        ++next;
        curl_multi_add_handle(multi, slot.handle);
    }

    std::map<long, long> statuses;  // HTTP status -> count; 0 = transport error
    long http2 = 0;
    long failed = 0;
    std::string first_failure;
    int running = static_cast<int>(width);
    while (running > 0) {
        curl_multi_perform(multi, &running);
        int queued = 0;
        while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
            if (message->msg != CURLMSG_DONE) continue;
            Slot* slot = nullptr;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&slot));
            long status = 0;
            long version = 0;
            if (message->data.result == CURLE_OK) {
                curl_easy_getinfo(slot->handle, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_getinfo(slot->handle, CURLINFO_HTTP_VERSION, &version);
            }
            ++statuses[status];
            if (version == CURL_HTTP_VERSION_2_0) ++http2;
            if (status != 200 && status != 201) {
                ++failed;
                if (first_failure.empty()) {
                    first_failure = requests[slot->index].url + ": " +
                                    (status == 0 ? curl_easy_strerror(message->data.result) : slot->response.substr(0, 400));
                }
            }
            curl_multi_remove_handle(multi, slot->handle);
            if (next < requests.size()) {
                prepare(*slot, options, requests[next], next);
                ++next;
                curl_multi_add_handle(multi, slot->handle);
                ++running;
            }
        }
        if (running > 0) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }

    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (auto& slot : slots) {
        curl_slist_free_all(slot.headers);
        curl_easy_cleanup(slot.handle);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();

    nlohmann::json report = {{"objects", requests.size()}, {"failed", failed}, {"http2", http2},
                             {"parallel", options.parallel}, {"connections", options.connections},
                             {"seconds", seconds}};
    for (const auto& [status, count] : statuses) report["statuses"][std::to_string(status)] = count;
    if (!first_failure.empty()) report["firstFailure"] = first_failure;
    std::printf("%s\n", report.dump().c_str());
    return failed == 0 ? 0 : 1;
}
