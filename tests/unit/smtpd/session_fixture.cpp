// The scriptable policy and the in-memory connection driver used by the smtpd protocol tests.
#include "tests/unit/smtpd/session_fixture.h"

#include <algorithm>

namespace smarthost::smtpd::test {

Verdict FakePolicy::on_connect(const ClientInfo&) {
  calls.push_back("connect");
  return connect;
}

Verdict FakePolicy::on_mail(const SessionView&, std::string_view reverse_path) {
  calls.push_back("mail " + std::string(reverse_path));
  return mail;
}

Verdict FakePolicy::on_rcpt(const SessionView&, std::string_view, std::string_view forward_path) {
  calls.push_back("rcpt " + std::string(forward_path));
  const auto it = refused_rcpts.find(std::string(forward_path));
  return it == refused_rcpts.end() ? Verdict::allow() : it->second;
}

Verdict FakePolicy::on_end_of_data(const SessionView&, const mail::Envelope& envelope) {
  calls.push_back("eod " + std::to_string(envelope.recipients.size()));
  return end_of_data;
}

bool FakePolicy::authenticate(const ClientInfo&, std::string_view user, std::string_view password) {
  calls.push_back("auth " + std::string(user));
  seen_passwords.emplace_back(password);
  const auto it = passwords.find(std::string(user));
  return it != passwords.end() && it->second == password;
}

std::chrono::system_clock::time_point fixed_time() {
  return std::chrono::system_clock::time_point{std::chrono::seconds{1672740000}};
}

SessionSettings test_settings() {
  SessionSettings s;
  s.hostname = "mx.test";
  s.max_message_size = 1000;
  s.max_recipients = 3;
  s.max_errors = 20;
  s.tls_available = true;
  s.auth_available = true;
  s.allow_plaintext_auth = false;
  s.clock = fixed_time;
  return s;
}

ClientInfo loopback_client() {
  ClientInfo c;
  c.address = "127.0.0.1";
  c.port = 40000;
  c.loopback = true;
  return c;
}

std::string code_of(std::string_view reply) { return std::string(reply.substr(0, std::min<size_t>(3, reply.size()))); }

std::string status_of(std::string_view reply) {
  if (reply.size() < 5) return "";
  const std::string_view rest = reply.substr(4);
  const size_t end = rest.find_first_of(" \r");
  const std::string_view word = rest.substr(0, end);
  // x.y.z with x in 2, 4, 5
  if (word.size() < 5 || (word[0] != '2' && word[0] != '4' && word[0] != '5') || word[1] != '.') return "";
  return std::string(word);
}

Driver::Driver(Session& session, size_t split) : session_(session), split_(split) {}

void Driver::greet() {
  std::string out;
  apply(session_.greeting(), out);
}

void Driver::apply(const Step& step, std::string& out) {
  if (!step.reply.empty()) {
    replies.push_back(step.reply);
    out += step.reply;
  }
  next = step.next;
  if (next == Next::close) {
    closed = true;
    buffer_.clear();
  } else if (next == Next::start_tls) {
    // The plaintext pipelined after STARTTLS is thrown away; the handshake "succeeds".
    buffer_.clear();
    ++tls_handshakes;
    session_.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384");
    next = Next::read_command;
  } else if (next == Next::read_data) {
    reader_.emplace(DataReader::Mode::dot, session_.bare_lf(), session_.max_message_size());
    body_.clear();
  } else if (next == Next::read_bdat) {
    if (!session_.bdat_discard() && session_.bdat_first()) {
      reader_.emplace(DataReader::Mode::chunk, session_.bare_lf(), session_.max_message_size());
      body_.clear();
    }
  } else if (next == Next::commit) {
    const std::string qid = "Q" + std::to_string(++queue_ids_);
    headers.push_back(session_.received_header(qid));
    messages.push_back(body_);
    body_.clear();
    reader_.reset();
    CommitOutcome outcome = commit_result.value_or(CommitOutcome{true, qid, ""});
    apply(session_.committed(outcome), out);
  }
}

std::string Driver::input(std::string_view bytes) {
  std::string out;
  buffer_.append(bytes);
  while (!closed) {
    if (next == Next::read_command) {
      const size_t crlf = buffer_.find("\r\n");
      if (crlf == std::string::npos) {
        if (buffer_.size() > 512) {
          // Over the cap without a line end: the connection discards up to the next CRLF.
          buffer_.clear();
          apply(session_.on_line_too_long(), out);
        }
        break;
      }
      const std::string line = buffer_.substr(0, crlf);
      buffer_.erase(0, crlf + 2);
      if (line.size() > 510) {
        apply(session_.on_line_too_long(), out);
      } else {
        apply(session_.on_line(line), out);
      }
    } else if (next == Next::read_data) {
      size_t used = 0;
      while (used < buffer_.size() && !reader_->done()) {
        const size_t piece = split_ == 0 ? buffer_.size() - used : std::min(split_, buffer_.size() - used);
        used += reader_->feed(std::string_view(buffer_).substr(used, piece), body_);
      }
      buffer_.erase(0, used);
      if (!reader_->done()) break;
      const DataOutcome outcome = reader_->outcome();
      reader_.reset();
      apply(session_.data_end(outcome), out);
    } else if (next == Next::read_bdat) {
      const uint64_t want = session_.bdat_size();
      if (buffer_.size() < want) break;
      const std::string chunk = buffer_.substr(0, static_cast<size_t>(want));
      buffer_.erase(0, static_cast<size_t>(want));
      DataOutcome outcome;
      if (!session_.bdat_discard()) {
        size_t used = 0;
        while (used < chunk.size()) {
          const size_t piece = split_ == 0 ? chunk.size() - used : std::min(split_, chunk.size() - used);
          used += reader_->feed(std::string_view(chunk).substr(used, piece), body_);
        }
        if (session_.bdat_last()) reader_->finish_chunk(body_);
        outcome = reader_->outcome();
      }
      apply(session_.bdat_end(outcome), out);
    } else {
      break;
    }
  }
  return out;
}

}  // namespace smarthost::smtpd::test
