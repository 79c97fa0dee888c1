// "Did you mean ...?" for unknown keys and values: the closest known name by edit distance.
// Pure string work; the caller words the message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::conf {

// Damerau-Levenshtein distance (adjacent swaps count as one edit).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo (at most a third of the word's
// length in edits, and at least one edit allowed), else nothing. Ties go to the first candidate.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace smarthost::conf
