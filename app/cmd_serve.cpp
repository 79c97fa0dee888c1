// `smarthost serve` (being wired).
#include "app/commands.h"

namespace smarthost::app {
int run_serve(const Invocation&) { return kExitTempFail; }
}  // namespace smarthost::app
