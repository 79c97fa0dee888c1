// The three upstream forms become one ordered list plus a routing strategy; names default to provider + index.
#include <gtest/gtest.h>

#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {
}  // namespace
}  // namespace smarthost::conf::test
