#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace minicd::testing {

// A small HTTP/1.1 server on 127.0.0.1 for unit tests of the HTTP client: it parses requests
// (Content-Length bodies only), keeps connections alive and answers through a handler.
class LocalHttpServer {
public:
    struct Request {
        std::string method;
        std::string target;
        std::map<std::string, std::string> headers;  // names lowercased
        std::string body;
    };
    // A piece of a chunked body, sent `delay_ms` after the one before it (or after the headers).
    struct Part {
        int delay_ms = 0;
        std::string data;
    };
    struct Reply {
        int status = 200;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        int delay_ms = 0;  // sleep before answering, to provoke client timeouts
        // When not empty the body is these parts in chunked encoding instead, paced as they say
        // (slow or silent streams, watches); `body` is then ignored.
        std::vector<Part> parts;
    };
    using Handler = std::function<Reply(const Request&)>;

    explicit LocalHttpServer(Handler handler);
    ~LocalHttpServer();
    LocalHttpServer(const LocalHttpServer&) = delete;
    LocalHttpServer& operator=(const LocalHttpServer&) = delete;

    std::string url(const std::string& path = "/") const;
    int connections_accepted() const { return m_connections.load(); }

private:
    void accept_loop();
    void serve(int fd);
    // Sleeps up to `ms`; false when the server is being destroyed meanwhile.
    bool pause(int ms) const;
    bool send_parts(int fd, const Reply& reply) const;

    Handler m_handler;
    int m_listen_fd = -1;
    int m_port = 0;
    std::atomic<bool> m_stopping{false};
    std::atomic<int> m_connections{0};
    std::thread m_acceptor;
    std::mutex m_workers_mutex;
    std::vector<std::thread> m_workers;
    std::vector<int> m_open_fds;
};

}  // namespace minicd::testing
