#include "qemu/host/qmp.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace hypdiff::qemu {

using Clock = std::chrono::steady_clock;

Qmp::~Qmp() { close(); }

void Qmp::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool Qmp::connect_abstract(const std::string& name, std::chrono::milliseconds timeout) {
  close();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof addr.sun_path) {
    ::close(fd);
    throw std::runtime_error("QMP socket name too long");
  }
  // Abstract namespace: a leading NUL, and the length counts only the name's bytes.
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    ::close(fd);
    return false;
  }
  fd_ = fd;
  const auto deadline = Clock::now() + timeout;
  const auto greeting = nlohmann::json::parse(read_line(deadline), nullptr, false);
  if (greeting.is_discarded() || !greeting.contains("QMP"))
    throw std::runtime_error("QMP: unexpected greeting");
  send(R"({"execute":"qmp_capabilities"})");
  read_reply(deadline);
  return true;
}

void Qmp::send(const std::string& text) {
  const std::string line = text + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("QMP: connection closed while sending");
    done += static_cast<size_t>(n);
  }
}

std::string Qmp::read_line(Clock::time_point deadline) {
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error("QMP: no answer from QEMU");
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("QMP: QEMU closed the connection");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::string Qmp::read_reply(Clock::time_point deadline) {
  for (;;) {
    std::string line = read_line(deadline);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("QMP: unparsable reply: " + line);
    if (j.contains("event")) continue;
    if (j.contains("error")) {
      const auto& e = j["error"];
      throw std::runtime_error("QMP: " + e.value("desc", std::string("error")));
    }
    if (j.contains("return")) return line;
  }
}

void Qmp::execute(const std::string& command, std::chrono::milliseconds timeout) {
  if (fd_ < 0) throw std::runtime_error("QMP: not connected");
  send(nlohmann::json{{"execute", command}}.dump());
  read_reply(Clock::now() + timeout);
}

}  // namespace hypdiff::qemu
