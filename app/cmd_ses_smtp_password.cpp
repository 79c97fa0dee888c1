// `smarthost ses-smtp-password --region REGION`: derives the Amazon SES SMTP password from an AWS secret access
// key read on standard input (never from the command line, where other users could see it in ps).
#include <unistd.h>

#include <iostream>
#include <string>

#include "app/commands.h"
#include "upstream/smtp/ses_smtp_password.h"

namespace smarthost::app {

int run_ses_smtp_password(const Invocation& inv) {
  std::string region;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--region" && i + 1 < inv.args.size()) {
      region = inv.args[++i];
    } else if (a.rfind("--region=", 0) == 0) {
      region = a.substr(9);
    } else {
      std::cerr << "smarthost ses-smtp-password: unknown argument '" << a << "'\n";
      return kExitUsage;
    }
  }
  if (region.empty()) {
    std::cerr << "Usage: smarthost ses-smtp-password --region REGION   (the secret access key on standard input)\n";
    return kExitUsage;
  }
  if (::isatty(0)) std::cerr << "AWS secret access key: " << std::flush;
  std::string secret;
  std::getline(std::cin, secret);
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.empty()) {
    std::cerr << "smarthost ses-smtp-password: no secret access key on standard input\n";
    return kExitUsage;
  }
  std::cout << upstream::smtp::ses_smtp_password(secret, region) << "\n";
  return kExitOk;
}

}  // namespace smarthost::app
