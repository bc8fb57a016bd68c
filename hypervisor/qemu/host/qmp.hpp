// A minimal QMP client (QEMU's JSON control protocol) over a connected unix socket: the
// greeting, capabilities negotiation, and commands that return {"return": ...}. Asynchronous
// events interleaved with replies are skipped.
#pragma once

#include <chrono>
#include <string>

namespace hypdiff::qemu {

class Qmp {
 public:
  Qmp() = default;
  Qmp(const Qmp&) = delete;
  Qmp& operator=(const Qmp&) = delete;
  ~Qmp();

  // Connects to the abstract unix socket `name` (no file: nothing to clean up), reads the
  // greeting and negotiates capabilities. Returns false while QEMU does not listen yet; throws
  // std::runtime_error on a protocol error.
  bool connect_abstract(const std::string& name, std::chrono::milliseconds timeout);
  // Runs `command` (e.g. "stop", "cont", "system_reset", "quit") and waits for its reply.
  // Throws std::runtime_error with QEMU's error text, or on timeout / a closed connection.
  void execute(const std::string& command,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  void close();
  bool connected() const { return fd_ >= 0; }

 private:
  std::string read_line(std::chrono::steady_clock::time_point deadline);
  void send(const std::string& text);
  // Reads until a reply (not an event) arrives and returns it.
  std::string read_reply(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

}  // namespace hypdiff::qemu
