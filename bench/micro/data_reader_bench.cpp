// Micro-benchmarks of DATA decoding (smtpd::DataReader): plain text, dot-stuffed text and long lines, fed in
// socket-sized pieces as the connection does. Reports bytes per second of input; no I/O.
#include <benchmark/benchmark.h>

#include <string>

#include "smtpd/data_reader.h"

namespace {

using namespace smarthost;

// A DATA body of about `size` bytes with lines of `line` octets; every `dot_every`-th line starts with a
// stuffed dot (0 = never). Ends with the terminator.
std::string make_body(size_t size, size_t line, size_t dot_every) {
  std::string body = "From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n";
  size_t n = 0;
  while (body.size() < size) {
    if (dot_every && ++n % dot_every == 0) body += "..";
    body.append(line, 'x');
    body += "\r\n";
  }
  body += ".\r\n";
  return body;
}

void run(benchmark::State& state, const std::string& body) {
  const size_t piece = static_cast<size_t>(state.range(1));
  std::string out;
  out.reserve(body.size());
  for (auto _ : state) {
    out.clear();
    smtpd::DataReader reader(smtpd::DataReader::Mode::dot, smtpd::BareLineEnd::reject, 64ull << 20);
    size_t at = 0;
    while (at < body.size() && !reader.done()) {
      size_t n = std::min(piece, body.size() - at);
      at += reader.feed(std::string_view(body).substr(at, n), out);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// args: message size, read size
void BM_data_plain(benchmark::State& state) { run(state, make_body(state.range(0), 76, 0)); }
void BM_data_dot_stuffed(benchmark::State& state) { run(state, make_body(state.range(0), 76, 4)); }
void BM_data_long_lines(benchmark::State& state) { run(state, make_body(state.range(0), 2000, 0)); }

BENCHMARK(BM_data_plain)->Args({4096, 16384})->Args({1 << 20, 16384})->Args({1 << 20, 65536});
BENCHMARK(BM_data_dot_stuffed)->Args({1 << 20, 16384});
BENCHMARK(BM_data_long_lines)->Args({1 << 20, 16384});

}  // namespace
