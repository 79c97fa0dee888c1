// The alert loop (see alert_notifier.h).
#include "ops/alert_notifier.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

namespace smarthost::ops {

namespace asio = boost::asio;

struct AlertNotifier::Loop : std::enable_shared_from_this<Loop> {
  Loop(asio::any_io_executor executor, std::chrono::milliseconds period)
      : strand(asio::make_strand(executor)), timer(strand), every(period) {}
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  std::chrono::milliseconds every;
  std::weak_ptr<AlertNotifier> owner;
  bool stopped = false;

  void tick() {
    if (stopped) return;
    if (auto notifier = owner.lock()) notifier->evaluate();
    timer.expires_after(every);
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->tick();
    }));
  }
};

AlertNotifier::AlertNotifier(asio::any_io_executor executor, AlertThresholds thresholds, Inputs inputs,
                             std::vector<std::shared_ptr<AlertChannel>> channels, std::string hostname,
                             std::chrono::milliseconds every)
    : thresholds_(thresholds),
      inputs_(std::move(inputs)),
      channels_(std::move(channels)),
      hostname_(std::move(hostname)),
      rules_(thresholds),
      loop_(std::make_shared<Loop>(std::move(executor), every)) {}

AlertNotifier::~AlertNotifier() { stop(); }

void AlertNotifier::start() {
  loop_->owner = weak_from_this();
  asio::dispatch(loop_->strand, [loop = loop_] { loop->tick(); });
}

void AlertNotifier::stop() {
  asio::dispatch(loop_->strand, [loop = loop_] {
    loop->stopped = true;
    loop->timer.cancel();
  });
}

std::string AlertNotifier::text_of(const AlertNotice& notice, const std::string& hostname) {
  return "[smarthost " + hostname + "] " + (notice.state == AlertState::firing ? "FIRING " : "RESOLVED ") +
         notice.key + ": " + notice.summary;
}

std::vector<AlertNotice> AlertNotifier::evaluate() {
  AlertInputs in = inputs_ ? inputs_() : AlertInputs{};
  std::vector<AlertNotice> notices;
  {
    std::lock_guard lock(mutex_);
    notices = rules_.evaluate(in, std::chrono::system_clock::now());
  }
  for (const auto& notice : notices) {
    std::string text = text_of(notice, hostname_);
    if (notice.state == AlertState::firing) {
      spdlog::warn("alert {} firing: {}", notice.key, notice.summary);
    } else {
      spdlog::info("alert {} resolved", notice.key);
    }
    for (const auto& channel : channels_) channel->send(notice, text);
  }
  return notices;
}

std::vector<ActiveAlert> AlertNotifier::active() const {
  std::lock_guard lock(mutex_);
  return rules_.active();
}

}  // namespace smarthost::ops
