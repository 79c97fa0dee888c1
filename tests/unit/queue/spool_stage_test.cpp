// FsSpool::stage: an uncommitted message readable in place for passthrough delivery, gone with its writer, and
// never in active/.
#include <gtest/gtest.h>

#include <filesystem>

#include "queue/fs_spool.h"
#include "queue_test_support.h"
#include "tests/support/temp_dir.h"

namespace smarthost::queue {
namespace {

namespace fs = std::filesystem;

TEST(SpoolStage, UncommittedContentIsReadableUntilTheWriterGoes) {
  smarthost::test::TempDir dir;
  std::error_code error;
  FsSpoolOptions options;
  options.write_buffer = 16;  // some bytes written through, some still buffered at stage()
  auto spool = FsSpool::open(dir.path(), options, error);
  ASSERT_TRUE(spool) << error.message();
  auto writer = spool->begin(error);
  ASSERT_TRUE(writer) << error.message();
  std::string content = test::sample_message("staged");
  writer->append(content.substr(0, 40));
  writer->append(content.substr(40, 5));
  writer->append(content.substr(45));

  StagedMessage staged = spool->stage(*writer);
  ASSERT_FALSE(staged.error) << staged.error.message();
  EXPECT_EQ(staged.size, content.size());
  EXPECT_EQ(fs::path(staged.path).parent_path().filename(), "tmp");
  EXPECT_EQ(test::read_range(staged.path, staged.offset), content);
  EXPECT_TRUE(fs::is_empty(dir.path() / "active"));

  writer.reset();
  EXPECT_FALSE(fs::exists(staged.path));
  EXPECT_TRUE(fs::is_empty(dir.path() / "active"));
}

TEST(SpoolStage, ReportsWriteErrorsAndRefusesOtherSpoolsWriters) {
  smarthost::test::TempDir dir;
  std::error_code error;
  FsSpoolOptions options;
  options.write_buffer = 4;
  options.hooks.fault = [](SpoolStep step) {
    return step == SpoolStep::write ? std::make_error_code(std::errc::no_space_on_device) : std::error_code();
  };
  auto spool = FsSpool::open(dir.path(), options, error);
  ASSERT_TRUE(spool) << error.message();
  auto writer = spool->begin(error);
  ASSERT_TRUE(writer);
  writer->append("Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(spool->stage(*writer).error, std::errc::no_space_on_device);

  auto healthy = FsSpool::open(dir.path() / "other", {}, error);
  ASSERT_TRUE(healthy);
  auto foreign = healthy->begin(error);
  ASSERT_TRUE(foreign);
  // A writer from another spool is not this spool's to stage.
  EXPECT_EQ(spool->stage(*foreign).error, std::errc::invalid_argument);
}

}  // namespace
}  // namespace smarthost::queue
