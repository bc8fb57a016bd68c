// save_to_corpus: content-addressed names, so saving the same counterexample twice (a rerun, two
// seeds shrinking to one case) yields one file.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

#include "corpus/case_file.hpp"

namespace hypdiff::corpus {

namespace {

// FNV-1a, 64-bit: stable across platforms and releases, unlike std::hash.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// nullopt when the file does not exist.
std::optional<std::string> read_if_exists(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) throw CorpusError(fmt::format("{}: cannot read existing file", p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::filesystem::path save_to_corpus(const std::filesystem::path& dir, std::string_view stem,
                                     const CaseFile& f) {
  if (stem.empty() || stem.find('/') != std::string_view::npos)
    throw CorpusError(fmt::format("{}: invalid case name '{}'", dir.string(), stem));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw CorpusError(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
  const std::string text = write_case(f);
  const std::uint64_t h = fnv1a(text);
  const auto digits = static_cast<std::uint32_t>(h ^ (h >> 32));
  // A different file under the same name would be a hash collision: take the next free suffix
  // rather than overwrite it.
  for (int n = 1;; ++n) {
    const std::string suffix = n == 1 ? "" : fmt::format("-{}", n);
    const std::filesystem::path p = dir / fmt::format("{}-{:08x}{}.case", stem, digits, suffix);
    const auto existing = read_if_exists(p);
    if (existing == text) return p;
    if (!existing) {
      save_case(p, f);
      return p;
    }
  }
}

}  // namespace hypdiff::corpus
