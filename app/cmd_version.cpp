// `smarthost version`: the program version, the versions of the libraries it was built with, and the allocator the
// running process uses (jemalloc when linked with it, see CMakeLists.txt; glibc's malloc otherwise).
#include <curl/curlver.h>
#include <dlfcn.h>
#include <openssl/opensslv.h>

#include <boost/version.hpp>
#include <iostream>
#include <string>

#include "app/commands.h"

namespace smarthost::app {
namespace {

std::string allocator() {
  // jemalloc's control interface, looked up at run time: present only when jemalloc provides malloc.
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  if (auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"))) {
    const char* version = nullptr;
    size_t size = sizeof(version);
    if (mallctl("version", &version, &size, nullptr, 0) == 0 && version) return std::string("jemalloc ") + version;
    return "jemalloc";
  }
  return "glibc malloc";
}

}  // namespace

int run_version(const Invocation&) {
  std::cout << "smarthost " << SMARTHOST_VERSION << "\n"
            << "built with " << OPENSSL_VERSION_TEXT << ", libcurl " << LIBCURL_VERSION << ", Boost "
            << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "\n"
            << "allocator: " << allocator() << "\n";
  return kExitOk;
}

}  // namespace smarthost::app
