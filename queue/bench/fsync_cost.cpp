// Measures what makes N freshly written spool files durable fastest: one fsync round per message (no group
// commit), sequential fdatasync of the batch, fdatasync on parallel threads, or one syncfs(). Not a test.
// Usage: queue_fsync_bench DIR [rounds]. The numbers it printed on the build machine are in group_commit.h.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::vector<int> write_files(const std::filesystem::path& dir, int count, const std::string& bytes) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    auto path = dir / "tmp" / std::to_string(i);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) std::perror("write");
    fds.push_back(fd);
  }
  return fds;
}

void rename_all(const std::filesystem::path& dir, int count) {
  for (int i = 0; i < count; ++i) {
    auto from = dir / "tmp" / std::to_string(i);
    auto to = dir / "active" / std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) != 0) std::perror("rename");
  }
}

void sync_dir(const std::filesystem::path& dir) {
  int fd = ::open((dir / "active").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) std::perror("fsync dir");
  ::close(fd);
}

double run(const std::filesystem::path& dir, int count, const std::string& bytes, int mode) {
  std::filesystem::remove_all(dir / "active");
  std::filesystem::create_directories(dir / "active");
  std::filesystem::create_directories(dir / "tmp");
  sync_dir(dir);
  auto fds = write_files(dir, count, bytes);
  auto start = Clock::now();
  if (mode == 0) {  // one full round per message
    for (int i = 0; i < count; ++i) {
      ::fdatasync(fds[i]);
      auto from = dir / "tmp" / std::to_string(i);
      auto to = dir / "active" / std::to_string(i);
      ::rename(from.c_str(), to.c_str());
      sync_dir(dir);
    }
  } else {
    if (mode == 1) {
      for (int fd : fds) ::fdatasync(fd);
    } else if (mode == 2) {
      std::vector<std::thread> threads;
      constexpr int kThreads = 4;
      for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
          for (int i = t; i < count; i += kThreads) ::fdatasync(fds[i]);
        });
      for (auto& thread : threads) thread.join();
    } else {
      ::syncfs(fds[0]);
    }
    rename_all(dir, count);
    sync_dir(dir);
  }
  auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  for (int fd : fds) ::close(fd);
  return elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [rounds]\n", argv[0]);
    return 2;
  }
  std::filesystem::path dir = argv[1];
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::string bytes(12 * 1024, 'x');
  const char* names[] = {"per-message round", "sequential fdatasync", "parallel fdatasync x4", "syncfs"};
  for (int count : {1, 8, 32, 128}) {
    for (int mode = 0; mode < 4; ++mode) {
      double best = 1e9, total = 0;
      for (int r = 0; r < rounds; ++r) {
        double ms = run(dir, count, bytes, mode);
        best = std::min(best, ms);
        total += ms;
      }
      std::printf("%4d files  %-24s best %8.2f ms  mean %8.2f ms  (%.3f ms/message)\n", count, names[mode], best,
                  total / rounds, total / rounds / count);
    }
  }
  return 0;
}
