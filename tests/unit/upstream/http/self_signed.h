// A self-signed certificate for 127.0.0.1 made with the openssl tool in a temp dir, for the TLS tests.
#pragma once

#include <stdexcept>

#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {

struct SelfSigned {
  TempDir dir;
  FakeTls files;
  SelfSigned() {
    files.certificate_file = (dir.path() / "cert.pem").string();
    files.private_key_file = (dir.path() / "key.pem").string();
    auto result = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                       files.private_key_file, "-out", files.certificate_file});
    if (result.exit_code != 0) throw std::runtime_error("openssl req failed: " + result.err);
  }
};

}  // namespace smarthost::test
