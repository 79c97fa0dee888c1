// Scenario: `make install` (cmake --install) into a DESTDIR: the binary, the systemd units pointing at it, the
// sysusers and tmpfiles entries, the configuration only when absent, and the sendmail and mailq symlinks. A second
// install keeps an edited configuration and does not touch a sendmail that belongs to another mail system.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {
namespace {

// The install prefix and sysconfdir the build was configured with.
std::string cache_value(const std::filesystem::path& build, const std::string& key) {
  std::string cache = read_file(build / "CMakeCache.txt");
  std::smatch m;
  if (std::regex_search(cache, m, std::regex("\n" + key + ":[A-Z]+=([^\n]*)"))) return m[1].str();
  return {};
}

TEST(LifecycleInstall, InstallsIntoDestdirFollowingTheLayout) {
  const auto build = smarthost_bin().parent_path();
  if (!std::filesystem::exists(build / "cmake_install.cmake")) GTEST_SKIP() << "no build tree next to the binary";
  const std::string prefix = cache_value(build, "CMAKE_INSTALL_PREFIX");
  ASSERT_FALSE(prefix.empty());
  TempDir dest;
  auto install = [&] {
    return run({"cmake", "--install", build.string()}, "", std::chrono::seconds(60),
               {{"DESTDIR", dest.path().string()}});
  };
  auto r = install();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::filesystem::path root = dest.path().string() + prefix;

  EXPECT_TRUE(std::filesystem::exists(root / "sbin/smarthost")) << r.out;
  std::string service = read_file(root / "lib/systemd/system/smarthost.service");
  EXPECT_NE(service.find("ExecStart=" + prefix + "/sbin/smarthost serve"), std::string::npos) << service;
  EXPECT_TRUE(std::filesystem::exists(root / "lib/systemd/system/smarthost.socket"));
  EXPECT_NE(read_file(root / "lib/sysusers.d/smarthost.conf").find("u smarthost"), std::string::npos);
  EXPECT_NE(read_file(root / "lib/tmpfiles.d/smarthost.conf").find("/var/spool/smarthost"), std::string::npos);

  // The configuration lands in sysconfdir (/etc for PREFIX=/usr), and the units point at it.
  std::filesystem::path conf;
  for (auto it = std::filesystem::recursive_directory_iterator(dest.path());
       it != std::filesystem::recursive_directory_iterator(); ++it)
    if (it->path().filename() == "smarthost.toml" && it->path().parent_path().filename() == "smarthost" &&
        it->path().string().find("/doc/") == std::string::npos)
      conf = it->path();
  ASSERT_FALSE(conf.empty()) << r.out;
  std::string conf_dir = conf.parent_path().string().substr(dest.path().string().size());
  EXPECT_NE(service.find("--config " + conf_dir + "/smarthost.toml"), std::string::npos) << service;
  EXPECT_TRUE(std::filesystem::is_directory(conf.parent_path() / "credentials"));

  for (const auto& link : {root / "sbin/sendmail", root / "bin/mailq"}) {
    ASSERT_TRUE(std::filesystem::is_symlink(link)) << link;
    EXPECT_EQ(std::filesystem::canonical(link), std::filesystem::canonical(root / "sbin/smarthost"));
  }

  // Again, over an edited configuration and a sendmail from someone else: both are left alone.
  TempDir::write_to(conf, "# edited by the administrator\n");
  std::filesystem::remove(root / "sbin/sendmail");
  TempDir::write_to(root / "sbin/sendmail", "#!/bin/sh\n# another MTA\n");
  r = install();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_file(conf), "# edited by the administrator\n");
  EXPECT_FALSE(std::filesystem::is_symlink(root / "sbin/sendmail"));
  EXPECT_NE((r.out + r.err).find("left alone"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace smarthost::test
