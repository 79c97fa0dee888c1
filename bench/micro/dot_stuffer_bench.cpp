// Micro-benchmark of the upstream DATA encoding (upstream/smtp/dot_stuffer): CRLF canonicalisation, dot-stuffing
// and folding of a spooled message as SmtpConnection::stream_body feeds it, in 64 KiB file chunks. No I/O.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "upstream/smtp/dot_stuffer.h"

namespace {

using smarthost::upstream::smtp::DotStuffer;

// A spooled message (CRLF line ends) of about `size` bytes; every `dot_every`-th line starts with a dot.
std::string make_message(size_t size, size_t line, size_t dot_every) {
  std::string m = "From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n";
  size_t n = 0;
  while (m.size() < size) {
    if (dot_every && ++n % dot_every == 0) m += ".";
    m.append(line, 'x');
    m += "\r\n";
  }
  return m;
}

void run(benchmark::State& state, const std::string& message) {
  constexpr size_t kFileChunk = 64 * 1024;
  std::string out;
  for (auto _ : state) {
    out.clear();
    DotStuffer stuffer;
    for (size_t at = 0; at < message.size(); at += kFileChunk)
      stuffer.feed(std::string_view(message).substr(at, std::min(kFileChunk, message.size() - at)), out);
    stuffer.finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}

void BM_dot_stuff_plain(benchmark::State& state) { run(state, make_message(state.range(0), 76, 0)); }
void BM_dot_stuff_dots(benchmark::State& state) { run(state, make_message(state.range(0), 76, 4)); }
void BM_dot_stuff_long_lines(benchmark::State& state) { run(state, make_message(state.range(0), 2500, 0)); }

BENCHMARK(BM_dot_stuff_plain)->Arg(4096)->Arg(1 << 20);
BENCHMARK(BM_dot_stuff_dots)->Arg(1 << 20);
BENCHMARK(BM_dot_stuff_long_lines)->Arg(1 << 20);

}  // namespace
