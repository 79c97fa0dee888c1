// Dedup fingerprints: a SpoolWriter decorator that hashes the body (after the header section) as the message
// streams into the spool and keeps its Message-ID; the fingerprint is SHA-256 over Message-ID, sender, the
// recipients (sorted, lower-cased) and the body hash. Messages without a Message-ID get no fingerprint (they are
// never taken for re-submissions). It changes no byte on the way to the spool.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mail/envelope.h"
#include "queue/spool.h"

namespace smarthost::policy {

class FingerprintingWriter final : public queue::SpoolWriter {
 public:
  // The most header bytes kept to find the Message-ID in; the body is hashed whatever its size.
  static constexpr size_t kHeaderCap = 64 * 1024;

  explicit FingerprintingWriter(std::unique_ptr<queue::SpoolWriter> inner);
  ~FingerprintingWriter() override;

  void append(std::string_view bytes) override;
  std::string& append_buffer() override;
  void appended(size_t before) override;
  uint64_t size() const override { return inner_->size(); }
  boost::asio::awaitable<queue::CommitResult> commit(const mail::Envelope& envelope) override {
    return inner_->commit(envelope);
  }
  const queue::QueueId& id() const override { return inner_->id(); }

  // The Message-ID field's value (angle brackets kept, white space removed); empty when there is none.
  const std::string& message_id() const { return message_id_; }
  // Hex SHA-256 of the body seen so far (everything after the first empty line).
  std::string body_hash() const;
  // Hex fingerprint of the whole message for this envelope; empty without a Message-ID. Call after the last
  // append().
  std::string fingerprint(const mail::Envelope& envelope) const;

 private:
  void observe(std::string_view bytes);  // what append() and appended() see pass
  void feed_header(std::string_view bytes);
  void end_of_header();

  std::unique_ptr<queue::SpoolWriter> inner_;
  std::string* inner_buffer_ = nullptr;  // the inner writer's append_buffer() while a decoder fills it
  struct Digest;
  std::unique_ptr<Digest> body_;
  bool in_header_ = true;
  std::string header_;        // up to kHeaderCap bytes of the header section
  std::string tail_;          // the last bytes of header seen, to find "\r\n\r\n" across appends
  uint64_t header_seen_ = 0;  // header bytes seen in total
  std::string message_id_;
};

// The fingerprint formula on its own: hex SHA-256 of Message-ID, sender, sorted lower-cased recipients and the
// body hash, NUL-separated. Empty when message_id is empty.
std::string message_fingerprint(std::string_view message_id, const mail::Envelope& envelope,
                                std::string_view body_hash);

}  // namespace smarthost::policy
