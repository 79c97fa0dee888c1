// The entry points of the CLI commands, one cmd_*.cpp each; commands.cpp lists them with their help.
#pragma once

#include "app/cli.h"

namespace smarthost::app {

int run_serve(const Invocation&);
int run_check_config(const Invocation&);
int run_version(const Invocation&);
int run_sendmail(const Invocation&);
int run_passwd(const Invocation&);
int run_ses_smtp_password(const Invocation&);
int run_queue(const Invocation&);
int run_validate(const Invocation&);
int run_send_test(const Invocation&);
int run_status(const Invocation&);

}  // namespace smarthost::app
