// Micro-benchmarks of the spool write path (queue/fs_spool): a writer taking a message in socket-sized appends,
// without and with the commit (group commit, fdatasync and rename). The spool lives in a fresh directory under
// $SMARTHOST_BENCH_TMP (default /var/tmp; use a real disk, not tmpfs) and is removed afterwards.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "queue/fs_spool.h"

namespace {

namespace asio = boost::asio;
using namespace smarthost;

std::filesystem::path bench_root() {
  const char* base = std::getenv("SMARTHOST_BENCH_TMP");
  std::string pattern = std::string(base ? base : "/var/tmp") + "/smarthost-spool-bench.XXXXXX";
  if (!::mkdtemp(pattern.data())) return {};
  return pattern;
}

struct SpoolFixture {
  std::filesystem::path root = bench_root();
  std::unique_ptr<queue::FsSpool> spool;
  explicit SpoolFixture(queue::SpoolDir::SyncMethod sync = queue::SpoolDir::SyncMethod::automatic) {
    std::error_code error;
    queue::FsSpoolOptions options;
    options.sync = sync;
    if (!root.empty()) spool = queue::FsSpool::open(root / "spool", options, error);
  }
  ~SpoolFixture() {
    spool.reset();
    std::error_code ignored;
    if (!root.empty()) std::filesystem::remove_all(root, ignored);
  }
};

// Appends `size` bytes in `piece`-sized calls, as the connection does after each socket read.
void fill(queue::SpoolWriter& writer, const std::string& piece, size_t size) {
  for (size_t at = 0; at < size; at += piece.size()) writer.append(std::string_view(piece).substr(0, size - at));
}

// args: message size, append size. The writer is dropped uncommitted (its temporary file is removed).
void BM_spool_append(benchmark::State& state) {
  SpoolFixture fixture;
  if (!fixture.spool) return state.SkipWithError("cannot open a spool");
  const size_t size = static_cast<size_t>(state.range(0));
  const std::string piece(static_cast<size_t>(state.range(1)), 'x');
  for (auto _ : state) {
    std::error_code error;
    auto writer = fixture.spool->begin(error);
    if (!writer) return state.SkipWithError("begin failed");
    fill(*writer, piece, size);
    benchmark::DoNotOptimize(writer->size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_spool_append)->Args({4096, 4096})->Args({1 << 20, 16384})->Args({1 << 20, 65536});

asio::awaitable<void> commit_one(queue::FsSpool& spool, const std::string& piece, size_t size, int& ok) {
  mail::Envelope envelope;
  envelope.mail_from = "bench@example.org";
  envelope.recipients.push_back({"sink@example.net", {}, {}});
  std::error_code error;
  auto writer = spool.begin(error);
  if (!writer) co_return;
  fill(*writer, piece, size);
  auto result = co_await writer->commit(envelope);
  if (!result.error) ++ok;
}

// One message written and made durable by a single session: the latency floor of a 250 reply (no batching).
void BM_spool_commit(benchmark::State& state) {
  SpoolFixture fixture;
  if (!fixture.spool) return state.SkipWithError("cannot open a spool");
  const size_t size = static_cast<size_t>(state.range(0));
  const std::string piece(16384, 'x');
  asio::io_context io;
  for (auto _ : state) {
    int ok = 0;
    asio::co_spawn(io, commit_one(*fixture.spool, piece, size, ok), asio::detached);
    io.restart();
    io.run();
    if (ok != 1) return state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_spool_commit)->Arg(4096)->UseRealTime()->Unit(benchmark::kMicrosecond);

// args: concurrent sessions, sync method (0 automatic, 1 fdatasync per file, 2 syncfs). Each iteration, every
// session commits one 4 KiB message at once, as concurrent SMTP sessions do; reports commits per second. syncfs
// also waits for every other dirty file on the same file system, so it is sensitive to other writers there.
void BM_spool_group_commit(benchmark::State& state) {
  const auto method = static_cast<queue::SpoolDir::SyncMethod>(state.range(1));
  SpoolFixture fixture(method);
  if (!fixture.spool) return state.SkipWithError("cannot open a spool");
  const int sessions = static_cast<int>(state.range(0));
  const std::string piece(4096, 'x');
  asio::io_context io;
  for (auto _ : state) {
    int ok = 0;
    for (int s = 0; s < sessions; ++s)
      asio::co_spawn(io, commit_one(*fixture.spool, piece, piece.size(), ok), asio::detached);
    io.restart();
    io.run();
    if (ok != sessions) return state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations() * sessions);
  static const char* kNames[] = {"automatic", "fdatasync", "syncfs"};
  state.SetLabel(kNames[state.range(1)]);
}
BENCHMARK(BM_spool_group_commit)
    ->ArgsProduct({{20}, {0, 1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
