// `smarthost status [--json] [--url URL]`: asks the running relay's operations endpoint (metrics.listen) for
// /status and prints it as a table: upstreams with state, rate and latency, then the queue and the last errors.
// It reads the configuration only to find the endpoint; it changes nothing.
#include <curl/curl.h>

#include <iostream>
#include <string>

#include "app/commands.h"
#include "app/config_source.h"
#include "ops/status_table.h"
#include "smtpd/listen_address.h"

namespace smarthost::app {

namespace {

constexpr size_t kMaxAnswer = 4 << 20;
constexpr long kTimeoutMs = 5000;

// "http://127.0.0.1:9325" from metrics.listen; a wildcard address is asked on loopback.
std::string base_url_of(const std::string& listen) {
  auto a = smtpd::parse_listen_address(listen);
  if (!a || a->unix_socket) return {};
  std::string host = a->host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(a->port);
}

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxAnswer) return 0;  // too large: libcurl stops with an error
  out->append(data, size * n);
  return size * n;
}

// GET url; the HTTP status (0 when there was no answer) and the body, or the error text.
long http_get(const std::string& url, std::string& body, std::string& error) {
  CURL* curl = curl_easy_init();
  if (!curl) {
    error = "cannot initialise libcurl";
    return 0;
  }
  char message[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, kTimeoutMs);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, message);
  long status = 0;
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  } else {
    error = message[0] ? message : curl_easy_strerror(rc);
  }
  curl_easy_cleanup(curl);
  return status;
}

}  // namespace

int run_status(const Invocation& inv) {
  bool raw = false;
  std::string url;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const auto& a = inv.args[i];
    if (a == "--json") {
      raw = true;
    } else if (a == "--url" && i + 1 < inv.args.size()) {
      url = inv.args[++i];
    } else {
      std::cerr << "smarthost status: unknown argument '" << a << "'\n";
      return kExitUsage;
    }
  }
  if (url.empty()) {
    auto loaded = load_config(inv.global, true, conf::SecretFiles::skip);
    if (!loaded) return kExitConfig;
    const auto& metrics = loaded->config->metrics;
    if (!metrics.enabled) {
      std::cerr << "smarthost status: [metrics] enabled = false, so the relay serves no /status\n";
      return kExitConfig;
    }
    url = base_url_of(metrics.listen);
    if (url.empty()) {
      std::cerr << "smarthost status: metrics.listen '" << metrics.listen << "' is not host:port\n";
      return kExitConfig;
    }
  }
  while (url.ends_with('/')) url.pop_back();
  std::string body, error;
  long status = http_get(url + "/status", body, error);
  if (status == 0) {
    std::cerr << "smarthost status: no answer from " << url << "/status (" << error << "); is the relay running?\n";
    return kExitTempFail;
  }
  if (status != 200) {
    std::cerr << "smarthost status: " << url << "/status answered HTTP " << status << "\n";
    return kExitTempFail;
  }
  if (raw) {
    std::cout << body;
    return kExitOk;
  }
  std::string table = ops::render_status_table(body, error);
  if (table.empty()) {
    std::cerr << "smarthost status: " << url << "/status: " << error << "\n";
    return kExitTempFail;
  }
  std::cout << table;
  return table.find("\nready: yes\n") != std::string::npos ? kExitOk : kExitConfig;
}

}  // namespace smarthost::app
