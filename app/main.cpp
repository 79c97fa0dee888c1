// smarthost entry point. Invoked as `sendmail` or `mailq` (through a symlink) it behaves as those commands.
#include <string_view>
#include <vector>

#include "app/cli.h"

int main(int argc, char** argv) {
  std::string_view self = argv[0];
  if (auto slash = self.rfind('/'); slash != std::string_view::npos) self.remove_prefix(slash + 1);
  if (self == "sendmail" || self == "mailq" || self == "newaliases") {
    // Rewrite into `smarthost sendmail ...` / `smarthost queue list`.
    std::vector<char*> args{argv[0]};
    static char sendmail[] = "sendmail", queue[] = "queue", list[] = "list";
    if (self == "mailq") {
      args.push_back(queue);
      args.push_back(list);
    } else {
      args.push_back(sendmail);
      if (self == "newaliases") return 0;  // no alias database: nothing to rebuild
    }
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    return smarthost::app::dispatch(static_cast<int>(args.size()) - 1, args.data());
  }
  return smarthost::app::dispatch(argc, argv);
}
