// SyncChooser: syncfs() for groups of three files or more (of one or more when they were renamed first) while it is
// the cheaper, per-file fdatasync() once syncfs() costs more (a busy file system shared with other writers), and
// back after the probes see it cheap again.
#include "queue/sync_chooser.h"

#include <gtest/gtest.h>

namespace smarthost::queue {
namespace {

using std::chrono::microseconds;

TEST(SyncChooser, SmallGroupsSyncFileByFileAndLargerOnesWithSyncfsUntilMeasured) {
  SyncChooser chooser;
  EXPECT_FALSE(chooser.use_syncfs(1));
  EXPECT_FALSE(chooser.use_syncfs(2));
  EXPECT_TRUE(chooser.use_syncfs(3));
  EXPECT_TRUE(chooser.use_syncfs(40));
  chooser.syncfs_took(microseconds(450));
  EXPECT_TRUE(chooser.use_syncfs(3)) << "no per-file cost measured yet";
}

TEST(SyncChooser, ASlowSyncfsGivesWayToPerFileSyncsAndComesBackWhenCheapAgain) {
  SyncChooser chooser;
  chooser.fdatasync_took(2, microseconds(1000));  // 0.5 ms a file
  chooser.syncfs_took(microseconds(450));
  EXPECT_TRUE(chooser.use_syncfs(8));

  // Another writer fills the file system with dirty data: syncfs() now waits for it.
  for (int i = 0; i < 20; ++i) chooser.syncfs_took(microseconds(40'000));
  EXPECT_GT(chooser.syncfs_cost(), 8 * chooser.per_file_cost());
  int by_syncfs = 0;
  for (uint64_t group = 0; group < 10 * SyncChooser::kProbeEvery; ++group) {
    if (chooser.use_syncfs(8)) {
      ++by_syncfs;
      chooser.syncfs_took(microseconds(40'000));  // still busy
    } else {
      chooser.fdatasync_took(8, microseconds(4000));
    }
  }
  EXPECT_EQ(by_syncfs, 10) << "only the probes, one every kProbeEvery groups";
  EXPECT_TRUE(chooser.use_syncfs(100)) << "100 files at 0.5 ms cost more than one syncfs() at 40 ms";

  // The other writer stops: the probes measure syncfs() cheap again, and it takes over.
  int probes = 0;
  for (uint64_t group = 0; group < 100 * SyncChooser::kProbeEvery && !(chooser.use_syncfs(8) && probes > 0);
       ++group) {
    if (chooser.use_syncfs(8)) {
      ++probes;
      chooser.syncfs_took(microseconds(450));
    }
  }
  EXPECT_TRUE(chooser.use_syncfs(8));
  EXPECT_LT(chooser.syncfs_cost(), 8 * chooser.per_file_cost());
  EXPECT_LT(probes, 60);
}

// Files renamed before the sync: syncfs() also spares the folder fsync, so it serves a group of one as well, and the
// per-file way is charged with that fsync when the two are compared.
TEST(SyncChooser, FilesRenamedFirstTakeSyncfsFromOneFileOnAndCountTheFolderSync) {
  SyncChooser chooser;
  // Nothing measured yet (a one-shot process): a small group syncs file by file, which no other writer's dirty data
  // can slow down; a probe tries syncfs() once in kProbeEvery groups.
  EXPECT_FALSE(chooser.use_syncfs(1, true));
  EXPECT_FALSE(chooser.use_syncfs(2, true));
  EXPECT_FALSE(chooser.use_syncfs(0, true));
  int probes = 0;
  for (uint64_t group = 0; group < SyncChooser::kProbeEvery; ++group) {
    if (!chooser.use_syncfs(1, true)) continue;
    ++probes;
    chooser.syncfs_took(microseconds(700));
  }
  EXPECT_EQ(probes, 1);
  EXPECT_FALSE(chooser.use_syncfs(1, true)) << "the per-file cost is not known yet";
  chooser.fdatasync_took(1, microseconds(500));
  chooser.folder_sync_took(microseconds(250));
  EXPECT_DOUBLE_EQ(chooser.folder_sync_cost(), 250'000);
  chooser.syncfs_took(microseconds(700));
  EXPECT_TRUE(chooser.use_syncfs(1, true)) << "0.7 ms against 0.5 ms and a 0.25 ms folder fsync";
  EXPECT_FALSE(chooser.use_syncfs(1)) << "without the rename first, a group of one syncs file by file";
  for (int i = 0; i < 40; ++i) chooser.syncfs_took(microseconds(800));
  EXPECT_FALSE(chooser.use_syncfs(1, true)) << "0.8 ms against 0.75 ms";
  EXPECT_TRUE(chooser.use_syncfs(2, true));
}

}  // namespace
}  // namespace smarthost::queue
