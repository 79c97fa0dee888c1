// verify_domain's DNS checks: the verdicts over a table of TXT answers, then the real resolver path (res_nquery and
// the answer parsing) against a small DNS server of the test's own on 127.53.0.1:53, reached by a child process
// that sees a private /etc/resolv.conf in a mount namespace of its own (root only; skipped otherwise).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "app/domain_dns.h"
#include "tests/support/temp_dir.h"

namespace smarthost::app {
namespace {

TxtLookup table(std::map<std::string, std::vector<std::string>> records) {
  return [records](const std::string& name) {
    TxtAnswer a;
    a.resolved = true;
    if (auto it = records.find(name); it != records.end()) a.records = it->second;
    return a;
  };
}

TEST(DomainDns, SpfWithTheProvidersIncludeAndADkimKeyPass) {
  auto verdict = check_domain_dns(conf::ProviderKind::sendgrid, "example.com",
                                  table({{"example.com", {"google-site-verification=x", "v=spf1 include:sendgrid.net ~all"}},
                                         {"s2._domainkey.example.com", {"k=rsa; p=MIGfMA0"}}}));
  EXPECT_TRUE(verdict.ok) << verdict.detail;
  EXPECT_NE(verdict.detail.find("DKIM key at s2._domainkey.example.com"), std::string::npos) << verdict.detail;
}

TEST(DomainDns, EachMissingPieceIsNamed) {
  auto none = check_domain_dns(conf::ProviderKind::mailgun, "example.com", table({}));
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.detail, "no SPF record (TXT \"v=spf1 ...\") at example.com");

  auto other = check_domain_dns(conf::ProviderKind::mailgun, "example.com",
                                table({{"example.com", {"v=spf1 include:_spf.google.com ~all"}}}));
  EXPECT_FALSE(other.ok);
  EXPECT_NE(other.detail.find("does not include:mailgun.org"), std::string::npos) << other.detail;

  auto no_dkim = check_domain_dns(conf::ProviderKind::mailgun, "example.com",
                                  table({{"example.com", {"v=spf1 include:mailgun.org ~all"}}}));
  EXPECT_FALSE(no_dkim.ok);
  EXPECT_NE(no_dkim.detail.find("no DKIM key"), std::string::npos) << no_dkim.detail;
}

TEST(DomainDns, ProvidersWithoutFixedSelectorsCheckSpfOnly) {
  auto verdict = check_domain_dns(conf::ProviderKind::ses, "example.com",
                                  table({{"example.com", {"v=spf1 include:amazonses.com -all"}}}));
  EXPECT_TRUE(verdict.ok) << verdict.detail;
  EXPECT_NE(verdict.detail.find("DKIM not checked"), std::string::npos);
}

TEST(DomainDns, AResolverFailureIsReportedAsSuch) {
  auto verdict = check_domain_dns(conf::ProviderKind::postmark, "example.com", [](const std::string&) {
    TxtAnswer a;
    a.error = "DNS lookup of example.com failed (Host name lookup failure)";
    return a;
  });
  EXPECT_FALSE(verdict.ok);
  EXPECT_EQ(verdict.detail, "DNS lookup of example.com failed (Host name lookup failure)");
}

// ---- The real resolver against a local DNS server -----------------------------------------------------------

constexpr const char* kServer = "127.53.0.1";
constexpr const char* kResolvConf = "nameserver 127.53.0.1\noptions timeout:1 attempts:1\n";

void put16(std::string& out, unsigned v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

// Answers TXT questions from `zone` (NXDOMAIN for other names); one UDP datagram in, one out.
class FakeDns {
 public:
  explicit FakeDns(std::map<std::string, std::vector<std::string>> zone) : zone_(std::move(zone)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, kServer, &a.sin_addr);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~FakeDns() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  void start() {
    thread_ = std::thread([this] {
      while (!stop_) serve_one();
    });
  }

 private:
  void serve_one() {
    unsigned char q[512];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 17) return;
    // The question: labels from offset 12, then type and class.
    std::string name;
    size_t at = 12;
    while (at < static_cast<size_t>(n) && q[at] != 0) {
      unsigned len = q[at++];
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(q + at), len);
      at += len;
    }
    size_t question_end = at + 5;
    if (question_end > static_cast<size_t>(n)) return;
    auto it = zone_.find(name);
    std::string r(reinterpret_cast<const char*>(q), 2);  // the id
    put16(r, it == zone_.end() ? 0x8183 : 0x8180);        // response, RD, RA; NXDOMAIN when unknown
    put16(r, 1);
    put16(r, it == zone_.end() ? 0 : static_cast<unsigned>(it->second.size()));
    put16(r, 0);
    put16(r, 0);
    r.append(reinterpret_cast<const char*>(q + 12), question_end - 12);
    if (it != zone_.end()) {
      for (const auto& text : it->second) {
        std::string rdata;
        for (size_t i = 0; i < text.size(); i += 255) {  // character-strings of at most 255 octets
          std::string part = text.substr(i, 255);
          rdata += static_cast<char>(part.size());
          rdata += part;
        }
        put16(r, 0xc00c);  // the name: a pointer to the question's
        put16(r, 16);      // TXT
        put16(r, 1);       // IN
        put16(r, 0);
        put16(r, 60);  // TTL
        put16(r, static_cast<unsigned>(rdata.size()));
        r += rdata;
      }
    }
    ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }

  std::map<std::string, std::vector<std::string>> zone_;
  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Runs check_domain_dns in a child that sees `resolv_conf` as /etc/resolv.conf. "SKIP: ..." when the namespace
// cannot be made here.
std::string verdict_in_namespace(const std::string& resolv_conf, conf::ProviderKind provider,
                                 const std::string& domain, FakeDns& dns) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "SKIP: pipe";
  pid_t pid = ::fork();  // before the server thread starts: the child is forked from a single thread
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string out;
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount(resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
      out = "SKIP: no private mount namespace here";
    } else {
      DnsVerdict v = check_domain_dns(provider, domain);
      out = std::string(v.ok ? "ok: " : "fail: ") + v.detail;
    }
    [[maybe_unused]] auto w = ::write(pipe_fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  dns.start();
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// The verdict for `domain` with `zone` served on 127.53.0.1:53; "SKIP: ..." when this machine cannot run it.
std::string resolve_in(std::map<std::string, std::vector<std::string>> zone, conf::ProviderKind provider,
                       const std::string& domain) {
  if (::geteuid() != 0) return "SKIP: needs root for a mount namespace and port 53";
  FakeDns dns(std::move(zone));
  if (!dns.bound()) return "SKIP: 127.53.0.1:53 is taken";
  test::TempDir dir;
  auto conf = dir.write("resolv.conf", kResolvConf);
  return verdict_in_namespace(conf.string(), provider, domain, dns);
}

TEST(DomainDnsResolver, TxtRecordsComeThroughTheSystemResolver) {
  const std::string long_key = "k=rsa; p=" + std::string(400, 'A');  // split over two character-strings
  std::string out = resolve_in({{"example.test", {"v=spf1 include:sendgrid.net ~all"}},
                                {"s1._domainkey.example.test", {long_key}}},
                               conf::ProviderKind::sendgrid, "example.test");
  if (out.starts_with("SKIP: ")) GTEST_SKIP() << out;
  EXPECT_EQ(out, "ok: SPF ok (v=spf1 include:sendgrid.net ~all); DKIM key at s1._domainkey.example.test");
}

TEST(DomainDnsResolver, AnUnknownDomainHasNoSpfRecord) {
  std::string out = resolve_in({{"example.test", {"v=spf1 -all"}}}, conf::ProviderKind::ses, "nowhere.test");
  if (out.starts_with("SKIP: ")) GTEST_SKIP() << out;
  EXPECT_EQ(out, "fail: no SPF record (TXT \"v=spf1 ...\") at nowhere.test");
}

}  // namespace
}  // namespace smarthost::app
