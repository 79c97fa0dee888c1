// `smarthost version`: the program version and the versions of the libraries it was built with.
#include <curl/curlver.h>
#include <openssl/opensslv.h>

#include <boost/version.hpp>
#include <iostream>

#include "app/commands.h"

namespace smarthost::app {

int run_version(const Invocation&) {
  std::cout << "smarthost " << SMARTHOST_VERSION << "\n"
            << "built with " << OPENSSL_VERSION_TEXT << ", libcurl " << LIBCURL_VERSION << ", Boost "
            << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "\n";
  return kExitOk;
}

}  // namespace smarthost::app
