// Hypercall names and the file operations of case_file.hpp.
#include "corpus/case_file.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "corpus/fields.hpp"

namespace hypdiff::corpus {

namespace {

// Indexed by number - kFirstHvc: HVC_KVM_SET_DESC_PFN (11) .. HVC_LOAD_CRYPT_VCPU (29).
constexpr model::Z kFirstHvc = model::k::HVC_KVM_SET_DESC_PFN;
constexpr std::array<std::string_view, 19> kHvcNames{
    "KVM_SET_DESC_PFN",  "KVM_UNSET_DESC_PFN", "TIMER_SET_CNTVOFF",      "CLEAR_VM_S2_RANGE",
    "SET_BOOT_INFO",     "REMAP_VM_IMAGE",     "VERIFY_VM_IMAGE",        "SMMU_FREE_PGD",
    "SMMU_ALLOC_PGD",    "SMMU_LPAE_MAP",      "SMMU_LPAE_IOVA_TO_PHYS", "SMMU_CLEAR",
    "PHYS_ADDR_IOREMAP", "REGISTER_KVM",       "REGISTER_VCPU",          "ENCRYPT_BUF",
    "DECRYPT_BUF",       "SAVE_CRYPT_VCPU",    "LOAD_CRYPT_VCPU",
};
static_assert(kFirstHvc + kHvcNames.size() - 1 == model::k::HVC_LOAD_CRYPT_VCPU);

std::string system_error() { return std::strerror(errno); }

}  // namespace

std::string_view hvc_name(model::Z number) {
  // Compare before subtracting: number may be as low as -2^127.
  if (number < kFirstHvc || number >= kFirstHvc + static_cast<model::Z>(kHvcNames.size()))
    return {};
  return kHvcNames[static_cast<std::size_t>(number - kFirstHvc)];
}

model::Z detail::hvc_number(std::string_view name) {
  for (std::size_t i = 0; i < kHvcNames.size(); ++i)
    if (kHvcNames[i] == name) return kFirstHvc + static_cast<model::Z>(i);
  return -1;
}

CaseFile load_case(const std::filesystem::path& path) {
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (!in) throw CorpusError(fmt::format("{}: cannot read: {}", path.string(), system_error()));
  std::string text;
  std::array<char, 65536> buf;
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), in)) > 0) text.append(buf.data(), n);
  const bool failed = std::ferror(in) != 0;
  const std::string why = failed ? system_error() : "";
  std::fclose(in);
  if (failed) throw CorpusError(fmt::format("{}: cannot read: {}", path.string(), why));
  auto parsed = parse_case(text);
  if (const auto* e = std::get_if<ParseError>(&parsed))
    throw CorpusError(fmt::format("{}:{}:{}: {}", path.string(), e->line, e->column, e->message));
  return std::get<CaseFile>(std::move(parsed));
}

void save_case(const std::filesystem::path& path, const CaseFile& f) {
  const std::string text = write_case(f);
  const std::filesystem::path tmp = path.string() + fmt::format(".tmp.{}", ::getpid());
  auto failure = [&](std::string_view what) {
    const std::string why = system_error();
    std::remove(tmp.c_str());
    return CorpusError(fmt::format("{}: cannot {}: {}", path.string(), what, why));
  };
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (!out) throw failure("write");
  const bool written = std::fwrite(text.data(), 1, text.size(), out) == text.size() &&
                       std::fflush(out) == 0 && ::fsync(::fileno(out)) == 0;
  // fclose must run even after a failed write; keep the first errno for the message.
  const int first_errno = errno;
  const bool closed = std::fclose(out) == 0;
  if (!written) errno = first_errno;
  if (!written || !closed) throw failure("write");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw failure("rename into place");
}

}  // namespace hypdiff::corpus
