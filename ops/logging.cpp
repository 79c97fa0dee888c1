// spdlog set-up: one sink on stderr whose formatter redacts secrets and can write JSON lines.
#include "ops/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

namespace smarthost::ops {
namespace {

std::mutex redactions_mutex;
std::shared_ptr<const std::vector<std::string>> redactions = std::make_shared<std::vector<std::string>>();

std::shared_ptr<const std::vector<std::string>> current_redactions() {
  std::lock_guard lock(redactions_mutex);
  return redactions;
}

// Formats a record as text or as one JSON object, after removing secrets from the message.
class RedactingFormatter final : public spdlog::formatter {
 public:
  explicit RedactingFormatter(LogStyle style) : style_(style), text_("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v") {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string clean = redact(std::string_view(msg.payload.data(), msg.payload.size()));
    if (style_ == LogStyle::json) {
      auto time = std::chrono::system_clock::to_time_t(msg.time);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
      std::tm tm{};
      gmtime_r(&time, &tm);
      char stamp[96];
      std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
      auto level = spdlog::level::to_string_view(msg.level);
      std::string line = std::string("{\"time\":\"") + stamp + "\",\"level\":\"" +
                         std::string(level.data(), level.size()) + "\",\"msg\":\"" + json_escape(clean) + "\"}\n";
      dest.append(line.data(), line.data() + line.size());
      return;
    }
    spdlog::details::log_msg copy(msg);
    copy.payload = spdlog::string_view_t(clean.data(), clean.size());
    text_.format(copy, dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<RedactingFormatter>(style_); }

 private:
  LogStyle style_;
  spdlog::pattern_formatter text_;
};

}  // namespace

void setup_logging(std::string_view level, LogStyle style, LogStream stream) {
  spdlog::sink_ptr sink;
  if (stream == LogStream::standard_output) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  sink->set_formatter(std::make_unique<RedactingFormatter>(style));
  auto logger = std::make_shared<spdlog::logger>("smarthost", sink);
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void set_redactions(std::vector<std::string> secrets) {
  std::erase_if(secrets, [](const std::string& s) { return s.size() < 3; });
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::lock_guard lock(redactions_mutex);
  redactions = std::make_shared<const std::vector<std::string>>(std::move(secrets));
}

std::string redact(std::string_view text) {
  std::string out(text);
  auto list = current_redactions();
  for (const auto& secret : *list) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
  return out;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace smarthost::ops
