// The command table: names, one-line summaries and --help texts.
#include "app/commands.h"

namespace smarthost::app {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"serve", "run the relay (SMTP listener, queue, deliveries)",
       "Usage: smarthost serve [--user NAME]\n\n"
       "Runs the relay in the foreground: accepts mail on the configured listeners, queues it durably and\n"
       "delivers it upstream. Without a configuration file it is configured from SMARTHOST_* environment\n"
       "variables when SMARTHOST_PROVIDER is set (containers), else it runs the development profile: SMTP on\n"
       "127.0.0.1:2525, mail written as files into ./smarthost-data/outbox.\n"
       "  --user NAME   started as root: give NAME the queue directory, then run as NAME, keeping only the\n"
       "                right to bind ports below 1024\n"
       "Signals: SIGTERM/SIGINT stop accepting, let open sessions finish (server.drain_timeout, then 421 4.3.2)\n"
       "and exit 0; SIGHUP reloads the configuration (a bad one is refused and the running one kept).\n"
       "Under systemd (Type=notify) it reports READY, RELOADING, STOPPING and STATUS, and pings the watchdog.\n",
       run_serve},
      {"check-config", "validate the configuration; --print shows it with defaults",
       "Usage: smarthost check-config [--print]\n\n"
       "Loads and validates the configuration and reports every error as file:line:col.\n"
       "  --print   print the effective configuration, every default filled in, secrets as ***\n"
       "Exit status: 0 valid, 1 invalid.\n",
       run_check_config},
      {"sendmail", "submit a message from standard input, as /usr/sbin/sendmail does",
       "Usage: smarthost sendmail [-t] [-i] [-f sender] [-F name] [-bs] [recipient...]\n\n"
       "Reads a message on standard input and submits it to the running relay (or, when it is not running,\n"
       "straight into its queue). Also works as `sendmail` through a symlink.\n"
       "  -t         take recipients from the To, Cc and Bcc headers (Bcc is removed)\n"
       "  -i, -oi    a line with a single '.' does not end the message\n"
       "  -f ADDR    envelope sender (default: your login name at this host)\n"
       "  -F NAME    full name for the From header when the message has none\n"
       "  -bs        speak SMTP on standard input and output\n"
       "Ignored for compatibility: -odi, -odb, -oem, -oep, -v and similar.\n"
       "Exit status: 0 accepted, 65 refused for good, 75 try again later.\n",
       run_sendmail},
      {"queue", "list, show, retry, delete, hold and release queued messages (mailq = queue list)",
       "Usage: smarthost queue list [--json]\n"
       "       smarthost queue show ID [--json]\n"
       "       smarthost queue retry ID | --all\n"
       "       smarthost queue delete ID | --all-failed\n"
       "       smarthost queue flush\n"
       "       smarthost queue hold ID\n"
       "       smarthost queue release ID\n\n"
       "Talks to the running relay through its admin socket (<queue.dir>/admin.sock, readable by the relay's\n"
       "user only); when no relay runs, works on the queue directory directly.\n"
       "  list         id, age, size, attempts, next attempt, sender, recipients and last error of each message\n"
       "  show         the envelope, the history and the headers of one message\n"
       "  retry        make a message due now (a failed or held one goes back to the queue); --all: every one\n"
       "  delete       remove a message; --all-failed: every message in failed/\n"
       "  flush        make every queued message due now\n"
       "               (retry and flush also close open circuit breakers: the upstream is tried at once)\n"
       "  hold         keep a message from delivery until released\n"
       "  release      put a held message back in the queue, due now\n"
       "  --json       list and show as JSON\n"
       "Exit status: 0 done, 1 configuration error or no such message, 2 usage, 75 try again later.\n",
       run_queue},
      {"passwd", "make a users-file line (user:hash) for SMTP AUTH",
       "Usage: smarthost passwd USER\n\n"
       "Reads a password (from the terminal without echo, or one line from standard input) and prints\n"
       "\"USER:<yescrypt hash>\" for server.users_file. Optionally append \":sender1,sender2\" to tie the user\n"
       "to the sender addresses (or \"@domain\") it may use.\n",
       run_passwd},
      {"ses-smtp-password", "derive an Amazon SES SMTP password from an AWS secret key",
       "Usage: smarthost ses-smtp-password --region REGION\n\n"
       "Reads an AWS secret access key on standard input and prints the SES SMTP password for REGION\n"
       "(for email-smtp.REGION.amazonaws.com), as AWS documents it.\n",
       run_ses_smtp_password},
      {"validate", "check each upstream: credentials, connection, a test message, the sending domain",
       "Usage: smarthost validate [--to ADDR] [--check LIST] [--timeout SECONDS]\n\n"
       "Checks every configured upstream and prints one line per check with ok or FAIL and the reason:\n"
       "  credentials       an authenticated call (API read, or SMTP AUTH) proves the key or password works\n"
       "  connection        the upstream answers: SMTP connect with TLS and AUTH, or the API over HTTPS\n"
       "  send_test_email   one test message to --to ADDR (or [test_mode] test_email with [validation]\n"
       "                    send_test_email = true)\n"
       "  verify_domain     Mailgun domain state, SES identity status, and the SPF and DKIM TXT records of the\n"
       "                    sending domain (on with [validation] verify_domain = true)\n"
       "  --check LIST      only these checks, comma-separated (default: credentials,connection plus what\n"
       "                    [validation] and --to switch on)\n"
       "  --timeout S       per check (default 15)\n"
       "With [validation] keys set, `serve` runs the same checks at start-up and refuses to start on a failure.\n"
       "Exit status: 0 all passed, 1 a check failed or the configuration is invalid, 2 usage.\n",
       run_validate},
      {"send-test", "send one message through the running relay and follow it to delivery",
       "Usage: smarthost send-test --to ADDR [--from ADDR] [--timeout SECONDS]\n\n"
       "Submits a short test message to the running relay's first listener, then follows it through the queue\n"
       "(via the admin socket) and prints each step with the time since the start: accepted with its queue id,\n"
       "each delivery attempt and answer, and delivered or failed.\n"
       "Exit status: 0 delivered, 1 refused or failed for good, 2 usage, 75 not delivered within the timeout\n"
       "(default 60 s) or no relay running.\n",
       run_send_test},
      {"status", "show the running relay: upstreams, queue, alerts and the last errors",
       "Usage: smarthost status [--json] [--url URL]\n\n"
       "Asks the running relay for /status on its operations endpoint (metrics.listen, default\n"
       "127.0.0.1:9325) and prints a table: each upstream with its state, circuit, rate, latency and health\n"
       "check, then the queue, the traffic, the alerts firing and the last delivery errors.\n"
       "  --json      print the JSON answer as it came\n"
       "  --url URL   ask this base URL instead (e.g. http://10.0.0.5:9325)\n"
       "The same endpoint serves /metrics (Prometheus), /healthz and /readyz.\n"
       "Exit status: 0 the relay is ready, 1 it answered but is not ready (or a configuration error),\n"
       "75 no relay answered.\n",
       run_status},
      {"version", "print the version", "Usage: smarthost version\n", run_version},
      {"help", "list the commands, or `help COMMAND` for one", "Usage: smarthost help [COMMAND]\n", nullptr},
  };
  return table;
}

}  // namespace smarthost::app
