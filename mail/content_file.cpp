// ContentFile: the budget check on adoption and the close on release.
#include "mail/content_file.h"

#include <unistd.h>

namespace smarthost::mail {

std::shared_ptr<const ContentFile> ContentFile::adopt(int fd, const std::shared_ptr<Budget>& budget) {
  if (fd < 0 || !budget) return nullptr;
  size_t open = budget->open.load(std::memory_order_relaxed);
  do {
    if (open >= budget->limit) return nullptr;
  } while (!budget->open.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
  return std::shared_ptr<const ContentFile>(new ContentFile(fd, budget));
}

ContentFile::~ContentFile() {
  ::close(fd_);
  budget_->open.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace smarthost::mail
