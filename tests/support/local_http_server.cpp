#include "support/local_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace minicd::testing {

LocalHttpServer::LocalHttpServer(Handler handler) : m_handler(std::move(handler)) {
    m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(m_listen_fd, 64) != 0) {
        throw std::runtime_error("LocalHttpServer: cannot listen on 127.0.0.1");
    }
    socklen_t length = sizeof address;
    ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&address), &length);
    m_port = ntohs(address.sin_port);
    m_acceptor = std::thread([this] { accept_loop(); });
}

LocalHttpServer::~LocalHttpServer() {
    m_stopping = true;
    ::shutdown(m_listen_fd, SHUT_RDWR);
    m_acceptor.join();
    ::close(m_listen_fd);
    std::vector<std::thread> workers;
    {
        std::lock_guard lock(m_workers_mutex);
        for (int fd : m_open_fds) ::shutdown(fd, SHUT_RDWR);
        workers.swap(m_workers);
    }
    for (auto& worker : workers) worker.join();
    for (int fd : m_open_fds) ::close(fd);
}

std::string LocalHttpServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
}

void LocalHttpServer::accept_loop() {
    while (!m_stopping) {
        pollfd waiting{m_listen_fd, POLLIN, 0};
        if (::poll(&waiting, 1, 50) <= 0) continue;
        int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++m_connections;
        std::lock_guard lock(m_workers_mutex);
        m_open_fds.push_back(fd);
        m_workers.emplace_back([this, fd] { serve(fd); });
    }
}

namespace {

bool read_more(int fd, std::string& buffer) {
    char chunk[8192];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

}  // namespace

void LocalHttpServer::serve(int fd) {
    std::string buffer;
    while (!m_stopping) {
        std::size_t header_end;
        while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
            if (!read_more(fd, buffer)) return;
        }
        Request request;
        std::string head = buffer.substr(0, header_end);
        buffer.erase(0, header_end + 4);
        std::size_t line_end = head.find("\r\n");
        std::string request_line = head.substr(0, line_end);
        auto first_space = request_line.find(' ');
        auto second_space = request_line.find(' ', first_space + 1);
        request.method = request_line.substr(0, first_space);
        request.target = request_line.substr(first_space + 1, second_space - first_space - 1);
        std::size_t position = line_end == std::string::npos ? head.size() : line_end + 2;
        while (position < head.size()) {
            std::size_t end = head.find("\r\n", position);
            if (end == std::string::npos) end = head.size();
            std::string line = head.substr(position, end - position);
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string value = line.substr(colon + 1);
                value.erase(0, value.find_first_not_of(' '));
                request.headers[lowercase(line.substr(0, colon))] = value;
            }
            position = end + 2;
        }
        std::size_t length = 0;
        if (auto it = request.headers.find("content-length"); it != request.headers.end()) {
            length = std::stoul(it->second);
        }
        while (buffer.size() < length) {
            if (!read_more(fd, buffer)) return;
        }
        request.body = buffer.substr(0, length);
        buffer.erase(0, length);

        Reply reply = m_handler(request);
        if (reply.delay_ms > 0 && !pause(reply.delay_ms)) return;
        if (!reply.parts.empty()) {
            if (!send_parts(fd, reply)) return;
            continue;
        }
        std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " Status\r\n";
        for (const auto& [name, value] : reply.headers) response += name + ": " + value + "\r\n";
        bool head_only = request.method == "HEAD";
        response += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n";
        if (!head_only) response += reply.body;
        if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) return;
    }
}

bool LocalHttpServer::pause(int ms) const {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    // Short steps, so that destroying the server never waits for a long reply delay.
    while (std::chrono::steady_clock::now() < until) {
        if (m_stopping) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !m_stopping;
}

bool LocalHttpServer::send_parts(int fd, const Reply& reply) const {
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Status\r\n";
    for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
    head += "Transfer-Encoding: chunked\r\n\r\n";
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) < 0) return false;
    for (const auto& part : reply.parts) {
        if (!pause(part.delay_ms)) return false;
        if (part.data.empty()) continue;  // an empty chunk would end the body
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", part.data.size());
        std::string chunk = size + part.data + "\r\n";
        if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) return false;
    }
    const std::string last = "0\r\n\r\n";
    return ::send(fd, last.data(), last.size(), MSG_NOSIGNAL) >= 0;
}

}  // namespace minicd::testing
