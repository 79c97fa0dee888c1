// Scenario: smarthost in a container, tested without Docker. The configuration comes entirely from SMARTHOST_*
// variables (with *_FILE for secrets); errors name the variable. Then the binary runs as a container would: PID 1
// in its own PID namespace, as a non-root user, with every mount read-only except the spool, logging to stdout;
// it accepts and delivers mail, reaps an orphaned child, and exits 0 on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

// With an /etc/smarthost/smarthost.toml on this machine, the file wins over the environment.
bool etc_config_present() { return std::filesystem::exists("/etc/smarthost/smarthost.toml"); }

RunResult smarthost(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{smarthost_bin().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, "", 30s, env);
}

TEST(ContainerEnv, TheWholeConfigurationComesFromTheEnvironment) {
  if (etc_config_present()) GTEST_SKIP() << "/etc/smarthost/smarthost.toml exists and takes precedence";
  TempDir tmp;
  auto key = tmp.write("mailgun-key", "key-from-a-docker-secret\n");
  auto r = smarthost({"check-config", "--print"},
                     {{"SMARTHOST_PROVIDER", "mailgun"},
                      {"SMARTHOST_API_KEY_FILE", key.string()},
                      {"SMARTHOST_DOMAIN", "mg.example.com"},
                      {"SMARTHOST_REGION", "eu"},
                      {"SMARTHOST_FROM_EMAIL", "noreply@example.com"},
                      {"SMARTHOST_LISTEN", "127.0.0.1:2600, [::1]:2601"},
                      {"SMARTHOST_ALLOWED_IPS", "10.0.0.0/8,172.16.0.0/12"},
                      {"SMARTHOST_QUEUE_DIR", (tmp.path() / "spool").string()},
                      {"SMARTHOST_MAX_MESSAGE_SIZE", "10MB"},
                      {"SMARTHOST_REQUIRE_TLS", "no"},
                      {"SMARTHOST_RATE_LIMIT", "500"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string& out = r.out;
  EXPECT_NE(out.find("provider = \"mailgun\""), std::string::npos) << out;
  EXPECT_NE(out.find("api_key = \"***\""), std::string::npos) << out;
  EXPECT_EQ(out.find("key-from-a-docker-secret"), std::string::npos) << "the secret was printed";
  EXPECT_NE(out.find("domain = \"mg.example.com\""), std::string::npos) << out;
  EXPECT_NE(out.find("region = \"eu\""), std::string::npos) << out;
  EXPECT_NE(out.find("listen = [\"127.0.0.1:2600\", \"[::1]:2601\"]"), std::string::npos) << out;
  EXPECT_NE(out.find("allowed_ips = [\"10.0.0.0/8\", \"172.16.0.0/12\"]"), std::string::npos) << out;
  EXPECT_NE(out.find("max_message_size = \"10MB\""), std::string::npos) << out;
  EXPECT_NE(out.find("rate_limit = 500"), std::string::npos) << out;

  // Without SMARTHOST_LISTEN a container listens on every address, port 2525.
  auto d = smarthost({"check-config", "--print"}, {{"SMARTHOST_PROVIDER", "file"},
                                                   {"SMARTHOST_OUTBOX_DIR", (tmp.path() / "out").string()}});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("listen = [\"0.0.0.0:2525\"]"), std::string::npos) << d.out;
}

TEST(ContainerEnv, MistakesNameTheVariable) {
  if (etc_config_present()) GTEST_SKIP() << "/etc/smarthost/smarthost.toml exists and takes precedence";
  TempDir tmp;
  auto bad_port = smarthost({"check-config"}, {{"SMARTHOST_PROVIDER", "smtp"},
                                               {"SMARTHOST_SMTP_HOST", "smtp.example.com"},
                                               {"SMARTHOST_SMTP_PORT", "submission"}});
  EXPECT_EQ(bad_port.exit_code, 1);
  EXPECT_NE(bad_port.err.find("SMARTHOST_SMTP_PORT: "), std::string::npos) << bad_port.err;

  auto both = smarthost({"check-config"}, {{"SMARTHOST_PROVIDER", "sendgrid"},
                                           {"SMARTHOST_API_KEY", "SG.x"},
                                           {"SMARTHOST_API_KEY_FILE", tmp.write("k", "SG.y").string()}});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("SMARTHOST_API_KEY and SMARTHOST_API_KEY_FILE are both set"), std::string::npos) << both.err;

  auto missing = smarthost({"check-config"}, {{"SMARTHOST_PROVIDER", "sendgrid"},
                                              {"SMARTHOST_API_KEY_FILE", (tmp.path() / "absent").string()}});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("SMARTHOST_API_KEY_FILE: cannot read"), std::string::npos) << missing.err;

  auto typo = smarthost({"check-config"}, {{"SMARTHOST_PROVIDER", "file"},
                                           {"SMARTHOST_OUTBOX_DIR", (tmp.path() / "out").string()},
                                           {"SMARTHOST_ALLOWED_IP", "10.0.0.0/8"}});
  EXPECT_EQ(typo.exit_code, 0) << typo.err;
  EXPECT_NE(typo.err.find("unknown variable SMARTHOST_ALLOWED_IP (ignored); did you mean SMARTHOST_ALLOWED_IPS?"),
            std::string::npos)
      << typo.err;
}

// The host PIDs of the children of `parent`.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(e.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    // "pid (comm) S ppid ..."
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

char state_of(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

std::string status_line(pid_t pid, const std::string& key) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return {};
  // "\nKey:\tvalue\n"
  auto start = at + key.size() + 3;
  auto end = status.find('\n', start);
  return status.substr(start, end - start);
}

constexpr const char* kContainerScript = R"(set -e
spool="$1"; bin="$2"
# Only the spool stays writable: make it a mount of its own, then remount everything else read-only.
mount --bind "$spool" "$spool"
for m in $(awk '{print $2}' /proc/self/mounts | sort -u); do
  [ "$m" = "$spool" ] && continue
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
if touch /smarthost-rw-probe 2>/dev/null; then rm -f /smarthost-rw-probe; echo "root is writable" >&2; exit 3; fi
# An orphan: re-parented to PID 1 (smarthost, after the exec) when its parent exits; it must be reaped.
(sleep 0.5 &)
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$bin" serve 2>/dev/null
)";

TEST(ContainerEnv, RunsAsPid1NonRootReadOnlyWithOnlyTheSpoolWritable) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and mounts";
  if (etc_config_present()) GTEST_SKIP() << "/etc/smarthost/smarthost.toml exists and takes precedence";
  if (run({"unshare", "--pid", "--fork", "--mount", "--mount-proc", "true"}).exit_code != 0)
    GTEST_SKIP() << "cannot create PID and mount namespaces here";
  TempDir tmp;
  std::filesystem::permissions(tmp.path(), std::filesystem::perms(0755));
  auto spool = tmp.path() / "spool";
  std::filesystem::create_directories(spool);
  ASSERT_EQ(::chown(spool.c_str(), 65534, 65534), 0);
  auto script = tmp.write("container.sh", kContainerScript);
  int port = free_port(), metrics = free_port();
  auto log = tmp.path() / "stdout.log";
  Process container({"unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation", "private", "sh",
                     script.string(), spool.string(), smarthost_bin().string()},
                    {{"SMARTHOST_PROVIDER", "file"},
                     {"SMARTHOST_OUTBOX_DIR", (spool / "outbox").string()},
                     {"SMARTHOST_QUEUE_DIR", (spool / "queue").string()},
                     {"SMARTHOST_LISTEN", "127.0.0.1:" + std::to_string(port)},
                     {"SMARTHOST_METRICS_LISTEN", "127.0.0.1:" + std::to_string(metrics)},
                     {"SMARTHOST_HOSTNAME", "container.test"}},
                    log.string());
  ASSERT_TRUE(wait_for_port(port, 10s)) << read_file(log);

  auto kids = children_of(container.pid());
  ASSERT_EQ(kids.size(), 1u);
  pid_t relay = kids.front();
  EXPECT_EQ(status_line(relay, "NSpid"), std::to_string(relay) + "\t1") << "not PID 1 in its namespace";
  EXPECT_EQ(status_line(relay, "Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(status_line(relay, "CapEff"), "0000000000000000");

  auto s = submit(port, Letter{});
  ASSERT_TRUE(s.accepted()) << s.end << read_file(log);
  bool delivered = false;
  for (int i = 0; i < 200 && !delivered; ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(spool / "outbox", ec))
      delivered = delivered || e.path().extension() == ".json";
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(delivered) << read_file(log);

  // The orphan (sleep 0.5) has ended by now: PID 1 must have reaped it.
  std::this_thread::sleep_for(700ms);
  for (pid_t child : children_of(relay)) EXPECT_NE(state_of(child), 'Z') << "zombie " << child;

  ASSERT_EQ(::kill(relay, SIGTERM), 0);
  EXPECT_EQ(container.wait(20s), 0) << read_file(log);
  std::string out = read_file(log);
  EXPECT_NE(out.find("configured from SMARTHOST_* environment variables"), std::string::npos) << out;
  EXPECT_NE(out.find("accepting SMTP on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << "the log is not on stdout:\n" << out;
  EXPECT_NE(out.find("stopped"), std::string::npos) << out;
}

}  // namespace
}  // namespace smarthost::test
