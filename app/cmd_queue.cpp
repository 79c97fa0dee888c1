// `smarthost queue list|show|retry|delete|flush|hold|release` (and `mailq`): asks the running relay through its
// admin socket (<queue.dir>/admin.sock), or, when no relay runs, works on the spool directly under its lock.
// Exit status: 0 ok, 1 configuration error or no such message, 2 usage, 75 try again later.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "app/commands.h"
#include "app/config_source.h"
#include "ops/logging.h"
#include "queue/admin_client.h"
#include "queue/admin_protocol.h"
#include "queue/admin_server.h"
#include "queue/queue_admin.h"
#include "queue/queue_id.h"

namespace smarthost::app {
namespace {

namespace admin = queue::admin;
namespace fs = std::filesystem;
using std::chrono::system_clock;
using Verb = admin::Verb;

constexpr auto kAskTimeout = std::chrono::seconds(30);

struct QueueArgs {
  admin::Request request;
  bool json = false;
};

bool parse_args(const std::vector<std::string>& args, QueueArgs& out, std::string& error) {
  std::vector<std::string> words;
  for (const auto& a : args) {
    if (a == "--json") {
      out.json = true;
    } else {
      words.push_back(a);
    }
  }
  if (words.empty()) words.push_back("list");
  std::string line;
  for (size_t i = 0; i < words.size(); ++i) {
    // Ids are upper-case base32; accept them typed in lower case.
    if (i > 0 && !words[i].empty() && words[i].front() != '-')
      for (auto& ch : words[i]) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    line += (i == 0 ? "" : " ") + words[i];
  }
  auto request = admin::parse_request(line, error);
  if (!request) return false;
  if (out.json && request->verb != Verb::list && request->verb != Verb::show) {
    error = "--json goes with list and show only";
    return false;
  }
  out.request = *request;
  return true;
}

// The same request, done on the spool directory (no relay holds it). A list goes to `on_entry`.
admin::Answer answer_offline(const fs::path& dir, const admin::Request& r, const admin::EntrySink& on_entry) {
  admin::Answer a;
  std::error_code error;
  bool missing_spool = !fs::exists(dir / "active", error);
  error.clear();
  switch (r.verb) {
    case Verb::list:
      if (!missing_spool) queue::offline::list(dir, on_entry, error);
      break;
    case Verb::show:
      a.details = queue::offline::show(dir, r.id, error);
      if (!a.details && !error) error = std::make_error_code(std::errc::no_such_file_or_directory);
      break;
    case Verb::retry: error = queue::offline::retry(dir, r.id); break;
    case Verb::retry_all:
      if (!missing_spool) error = queue::offline::retry_all(dir);
      break;
    case Verb::remove: error = queue::offline::remove(dir, r.id); break;
    case Verb::remove_failed:
      if (!missing_spool) error = queue::offline::remove_failed(dir);
      break;
    case Verb::flush:
      if (!missing_spool) error = queue::offline::flush(dir);
      break;
    case Verb::hold: error = queue::offline::hold(dir, r.id); break;
    case Verb::release: error = queue::offline::release(dir, r.id); break;
  }
  if (error) {
    a.status = admin::status_of(error);
    a.error = queue::admin::describe(error, r);
    if (error == std::errc::resource_unavailable_try_again)
      a.error = "the relay holds the queue but its admin socket (" + (dir / "admin.sock").string() +
                ") does not answer; try again";
    else if (error == std::errc::permission_denied)
      a.error = "permission denied on " + dir.string() + " (run as the relay's user or root)";
    a.entries.clear();
    a.details.reset();
  }
  return a;
}

// Remote text for a terminal: control characters (escape sequences) become '?'.
std::string printable(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f) c = '?';
  return out;
}

std::string span(std::chrono::seconds s) {
  auto n = s.count();
  if (n < 0) n = 0;
  if (n < 120) return std::to_string(n) + "s";
  if (n < 2 * 3600) return std::to_string(n / 60) + "m";
  if (n < 2 * 86400) return std::to_string(n / 3600) + "h";
  return std::to_string(n / 86400) + "d";
}

std::string next_attempt(const queue::QueueEntry& e, system_clock::time_point now) {
  if (e.folder == queue::Folder::hold) return "held";
  if (e.folder == queue::Folder::failed) return "failed";
  if (e.next_attempt <= now) return "due now";
  return "next in " + span(std::chrono::duration_cast<std::chrono::seconds>(e.next_attempt - now));
}

std::string_view state_name(mail::RecipientState s) {
  switch (s) {
    case mail::RecipientState::pending: return "pending";
    case mail::RecipientState::delivered: return "delivered";
    case mail::RecipientState::failed: return "failed";
  }
  return "pending";
}

void print_recipients(std::ostream& out, const std::vector<mail::Recipient>& recipients) {
  for (const auto& r : recipients) {
    out << "    to <" << printable(r.address) << "> " << state_name(r.state);
    if (!r.last_reply.empty()) out << ": " << printable(r.last_reply);
    out << "\n";
  }
}

// `queue list` printed as the entries arrive (a deep queue is never held): mailq-style text, or a JSON array.
class ListPrinter {
 public:
  ListPrinter(std::ostream& out, bool json) : out_(out), json_(json) {}

  void add(const queue::QueueEntry& e) {
    if (json_) {
      out_ << (count_ == 0 ? "[" : ",") << admin::entry_json(e);
    } else {
      held_ += e.folder == queue::Folder::hold;
      failed_ += e.folder == queue::Folder::failed;
      out_ << e.id << "  " << queue::to_string(e.folder) << "  age " << span(e.age) << "  " << e.size
           << " bytes  " << e.attempts << (e.attempts == 1 ? " attempt  " : " attempts  ") << next_attempt(e, now_)
           << "  from <" << printable(e.sender) << ">\n";
      print_recipients(out_, e.recipients);
      if (!e.last_error.empty()) out_ << "    last error: " << printable(e.last_error) << "\n";
    }
    ++count_;
  }

  // After the last entry of a complete list.
  void finish() {
    if (json_) {
      out_ << (count_ == 0 ? "[]\n" : "]\n");
    } else if (count_ == 0) {
      out_ << "Mail queue is empty\n";
    } else {
      out_ << "-- " << count_ << (count_ == 1 ? " message" : " messages") << " (" << held_ << " held, " << failed_
           << " failed)\n";
    }
  }

 private:
  std::ostream& out_;
  bool json_;
  system_clock::time_point now_ = system_clock::now();
  size_t count_ = 0, held_ = 0, failed_ = 0;
};

void print_details(std::ostream& out, const queue::MessageDetails& d) {
  const auto& e = d.entry;
  const auto& env = d.envelope;
  auto now = system_clock::now();
  out << "id:           " << e.id << "\n"
      << "folder:       " << queue::to_string(e.folder) << "\n"
      << "sender:       <" << printable(env.mail_from) << ">\n"
      << "size:         " << e.size << " bytes, body "
      << (env.body == mail::BodyType::eight_bit_mime ? "8BITMIME" : "7BIT") << (env.smtputf8 ? ", SMTPUTF8" : "")
      << "\n"
      << "client:       " << printable(env.client_address) << " (HELO " << printable(env.client_helo) << ")"
      << (env.auth_user.empty() ? "" : ", authenticated as " + printable(env.auth_user)) << "\n"
      << "content:      " << printable(d.content_path) << "\n"
      << "history:\n"
      << "  received " << admin::format_time(env.received_at) << " (" << span(e.age) << " ago)\n"
      << "  " << e.attempts << " delivery " << (e.attempts == 1 ? "attempt" : "attempts") << "; "
      << next_attempt(e, now);
  if (e.folder == queue::Folder::active) out << " (" << admin::format_time(e.next_attempt) << ")";
  out << "\n";
  if (!e.last_error.empty()) out << "  last error: " << printable(e.last_error) << "\n";
  out << "recipients:\n";
  print_recipients(out, env.recipients);
  out << "headers:\n";
  std::istringstream lines(d.headers);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out << "  " << printable(line) << "\n";
  }
}

std::string done_text(const admin::Request& r) {
  switch (r.verb) {
    case Verb::retry: return r.id + ": due now";
    case Verb::retry_all: return "every message due now (failed ones back in the queue)";
    case Verb::remove: return r.id + ": deleted";
    case Verb::remove_failed: return "failed messages deleted";
    case Verb::flush: return "every queued message due now";
    case Verb::hold: return r.id + ": held";
    case Verb::release: return r.id + ": released";
    default: return "";
  }
}

int exit_code(const admin::Answer& a, const admin::Request& r) {
  switch (a.status) {
    case admin::Status::ok: return kExitOk;
    case admin::Status::not_found:
    case admin::Status::denied: return kExitConfig;
    case admin::Status::invalid: return r.verb == Verb::release ? kExitConfig : kExitUsage;
    case admin::Status::busy:
    case admin::Status::failed: return kExitTempFail;
  }
  return kExitTempFail;
}

}  // namespace

int run_queue(const Invocation& inv) {
  QueueArgs args;
  std::string error;
  if (!parse_args(inv.args, args, error)) {
    std::cerr << "smarthost queue: " << error << "\n(see smarthost queue --help)\n";
    return kExitUsage;
  }
  auto loaded = load_config(inv.global, true, conf::SecretFiles::skip);
  if (!loaded) return kExitConfig;
  const auto& config = *loaded->config;
  // Keep stdout for the answer: log only warnings, on stderr, unless asked otherwise.
  if (inv.global.log_level) {
    setup_logging(inv.global, config);
  } else {
    ops::setup_logging("warn", ops::LogStyle::text);
  }

  fs::path dir = config.queue.dir;
  ListPrinter printer(std::cout, args.json);
  admin::EntrySink on_entry = [&printer](queue::QueueEntry&& entry) { printer.add(entry); };
  auto exchange = admin::ask(dir / "admin.sock", args.request, kAskTimeout, on_entry);
  admin::Answer answer;
  if (exchange.reach == admin::Exchange::Reach::answered) {
    answer = std::move(*exchange.answer);
  } else if (exchange.reach == admin::Exchange::Reach::no_server) {
    answer = answer_offline(dir, args.request, on_entry);
  } else {
    std::cerr << "smarthost queue: " << exchange.error << "\n";
    return exchange.denied ? kExitConfig : kExitTempFail;
  }

  if (answer.status != admin::Status::ok) {
    std::cerr << "smarthost queue: " << printable(answer.error) << "\n";
    return exit_code(answer, args.request);
  }
  switch (args.request.verb) {
    case Verb::list: printer.finish(); break;
    case Verb::show:
      if (!answer.details) {
        std::cerr << "smarthost queue: the relay's answer has no details\n";
        return kExitTempFail;
      }
      if (args.json) {
        std::cout << admin::details_json(*answer.details);
      } else {
        print_details(std::cout, *answer.details);
      }
      break;
    default: std::cout << done_text(args.request) << "\n"; break;
  }
  return kExitOk;
}

}  // namespace smarthost::app
