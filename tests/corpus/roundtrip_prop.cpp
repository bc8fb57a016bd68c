// parse_case(write_case(f)) == f for arbitrary case files (huge and negative values, odd oracles,
// many SMMU units, every op kind) and for realistic generated cases; and the parser never throws
// or points outside the text, whatever it is given.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <sstream>

#include "corpus/case_file.hpp"
#include "corpus/numbers.hpp"
#include "generators/case_gen.hpp"
#include "helpers.hpp"

namespace hypdiff::corpus {
namespace {

using model::Z;
namespace gen = rc::gen;

// RC_GTEST_PROP runs the configured number of cases (100 by default); these properties need more.
template <class Testable>
void check_at_least(int cases, Testable&& testable) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata meta;
  meta.id = std::string(info->test_suite_name()) + "/" + info->name();
  meta.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = std::max(params.maxSuccess, cases);
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), meta, params);
  if (result.template is<rc::detail::SuccessResult>()) {
    EXPECT_GE(result.template get<rc::detail::SuccessResult>().numSuccess, cases);
  } else {
    std::ostringstream s;
    rc::detail::printResultMessage(result, s);
    FAIL() << s.str();
  }
}

Z from_halves(std::uint64_t hi, std::uint64_t lo) {
  return static_cast<Z>((static_cast<unsigned __int128>(hi) << 64) | lo);
}

// Small values, 64-bit values of either sign, arbitrary 128-bit values and the extremes.
rc::Gen<Z> z_gen() {
  return gen::oneOf(
      gen::map(gen::inRange<std::int64_t>(-300, 300), [](std::int64_t v) { return Z{v}; }),
      gen::map(gen::arbitrary<std::uint64_t>(), [](std::uint64_t v) { return Z{v}; }),
      gen::map(gen::arbitrary<std::int64_t>(), [](std::int64_t v) { return Z{v}; }),
      gen::map(
          gen::pair(gen::arbitrary<std::uint64_t>(), gen::arbitrary<std::uint64_t>()),
          [](std::pair<std::uint64_t, std::uint64_t> p) { return from_halves(p.first, p.second); }),
      gen::element(detail::kZMin, detail::kZMax, detail::kZMin + 1, Z{-1}, Z{0}, (Z{1} << 64) - 1,
                   Z{1} << 64));
}

template <class T>
rc::Gen<std::vector<T>> few(rc::Gen<T> g) {
  return gen::scale(0.2, gen::container<std::vector<T>>(std::move(g)));
}

rc::Gen<model::MachineConfig> config_gen() {
  return gen::exec([] {
    model::MachineConfig c;
    c.max_vms = *gen::inRange(1, 255);
    c.vcpus_per_vm = *gen::inRange(1, 257);
    c.total_cpus = *gen::inRange(1, static_cast<int>(c.vcpus_per_vm) + 1);
    c.curid = *gen::inRange(0, static_cast<int>(c.total_cpus));
    c.ram_base_pfn = *gen::inRange(0x200, 0x100000);
    c.ram_pages = *gen::inRange(1, 0x100000);
    c.smmu_ctxt_banks = *gen::inRange(1, 129);
    // Units sit in 64 KiB slots below RAM (which starts at 2 MiB or later), so they never
    // overlap; at most 128 contexts in all (validate()'s TTBR-slot bound).
    const int units = *gen::inRange(0, std::min(16, 128 / static_cast<int>(c.smmu_ctxt_banks)) + 1);
    c.smmus.clear();
    for (int i = 0; i < units; ++i)
      c.smmus.push_back({0x100000 + Z{i} * 0x10000, *gen::inRange(1, 0x10001),
                         *gen::inRange(0, static_cast<int>(c.smmu_ctxt_banks) + 1)});
    c.max_share_count = *gen::map(gen::inRange<std::uint64_t>(1, ~std::uint64_t{0}),
                                  [](std::uint64_t v) { return Z{v}; });
    c.max_load_info = *gen::inRange(1, 65);
    return c;
  });
}

rc::Gen<model::SingleEvent> event_gen() {
  return gen::exec([] {
    model::SingleEvent e;
    e.cpu = *z_gen();
    e.event.kind = static_cast<model::EventKind>(
        *gen::inRange(0, static_cast<int>(model::EventKind::OLOAD_ENC_BUF) + 1));
    for (Z& a : e.event.args) a = *gen::oneOf(gen::just(Z{0}), z_gen());
    return e;
  });
}

rc::Gen<model::OracleInputs> oracle_gen() {
  return gen::exec([] {
    model::OracleInputs o;
    for (const Z p : *few(z_gen())) o.data[p] = *few(z_gen());
    for (const Z p : *few(z_gen())) o.core[p] = *few(z_gen());
    o.fallback_seed = *gen::arbitrary<std::uint64_t>();
    for (const auto at : *few(gen::arbitrary<std::uint64_t>())) o.soracle[at] = *few(event_gen());
    model::Params& p = o.params;
    for (const int i : *few(gen::arbitrary<int>())) p.reg_desc[i] = *z_gen();
    for (const Z v : *few(z_gen())) p.shared_kvm[v] = *z_gen();
    for (const Z v : *few(z_gen())) p.shared_vcpu[{v, *z_gen()}] = *z_gen();
    for (const Z v : *few(z_gen())) p.verify_img[v] = *z_gen();
    p.decrypt_gp_count = *gen::oneOf(gen::just(31), gen::arbitrary<int>());
    p.decrypt_sys_count = *gen::oneOf(gen::just(24), gen::arbitrary<int>());
    return o;
  });
}

rc::Gen<model::Op> op_gen() {
  auto z = [] { return *gen::oneOf(gen::just(Z{0}), z_gen()); };
  auto u64 = [] {
    return *gen::oneOf(gen::just(std::uint64_t{0}), gen::arbitrary<std::uint64_t>());
  };
  auto u32 = [] {
    return *gen::oneOf(gen::just(std::uint32_t{0}), gen::arbitrary<std::uint32_t>());
  };
  return gen::exec([=]() -> model::Op {
    switch (*gen::inRange(0, 9)) {
      case 0:
        return model::HostHvc{{z(), z(), z(), z(), z(), z()}};
      case 1:
        return model::HostFault{z(), z(), z()};
      case 2:
        return model::VcpuRun{z()};
      case 3:
        return model::VmExit{z(), z(), {z(), z(), z(), z()}, z(), z()};
      case 4:
        return model::MemLoad{u64(), u32()};
      case 5:
        return model::MemStore{u64(), u32()};
      case 6:
        return model::DevLoad{u64(), u32(), u32(), u32()};
      case 7:
        return model::DevStore{u64(), u32(), u32(), u32()};
      default:
        return model::SetReg{u32(), z()};
    }
  });
}

rc::Gen<std::string> word_gen() {
  return gen::nonEmpty(
      gen::container<std::string>(gen::elementOf(std::string("abcxyzABCZ0189_:./+-"))));
}

// Free text without line breaks: printable ASCII (with '#', '=' and spaces), tabs, UTF-8 bytes.
rc::Gen<std::string> note_gen() {
  return gen::container<std::string>(
      gen::oneOf(gen::inRange<char>(32, 127), gen::element('\t', '\xc3', '\xa9', '#')));
}

rc::Gen<CaseFile> case_file_gen() {
  return gen::exec([] {
    CaseFile f;
    f.c.cfg = *config_gen();
    f.c.oracle = *oracle_gen();
    f.c.ops = *gen::container<std::vector<model::Op>>(op_gen());
    if (*gen::arbitrary<bool>()) {
      Expectation e;
      e.target = *word_gen();
      e.against = *gen::oneOf(gen::just(std::string()), word_gen());
      e.verdict = *word_gen();
      if (*gen::arbitrary<bool>()) e.principal = *gen::arbitrary<std::int64_t>();
      if (*gen::arbitrary<bool>()) e.step = *gen::arbitrary<std::int64_t>();
      f.expect = e;
    }
    f.notes = *few(note_gen());
    return f;
  });
}

void assert_round_trip(const CaseFile& f) {
  RC_ASSERT(!f.c.cfg.validate().has_value());
  const std::string text = write_case(f);
  auto back = parse_case(text);
  if (const auto* e = std::get_if<ParseError>(&back))
    RC_FAIL(std::to_string(e->line) + ":" + std::to_string(e->column) + ": " + e->message + "\n" +
            text);
  RC_ASSERT(test::same_file(std::get<CaseFile>(back), f));
  RC_ASSERT(write_case(std::get<CaseFile>(back)) == text);
}

TEST(RoundTrip, ArbitraryCaseFiles) {
  check_at_least(600, [] { assert_round_trip(*case_file_gen()); });
}

TEST(RoundTrip, GeneratedCases) {
  check_at_least(500, [] {
    generators::GenOptions opts;
    opts.max_ops = 30;
    CaseFile f;
    f.c = generators::generate_case(opts, *gen::arbitrary<std::uint64_t>());
    f.notes = {"generated"};
    RC_ASSERT(!f.c.ops.empty());
    assert_round_trip(f);
  });
}

// Damaged files (a byte changed, inserted or dropped) either parse or give an error inside the
// text; the parser never throws.
TEST(RoundTrip, DamagedFilesGiveErrorsInsideTheText) {
  check_at_least(500, [] {
    std::string text = write_case(*case_file_gen());
    const auto at = *gen::inRange<std::size_t>(0, text.size());
    switch (*gen::inRange(0, 3)) {
      case 0:
        text[at] = *gen::arbitrary<char>();
        break;
      case 1:
        text.insert(at, 1, *gen::arbitrary<char>());
        break;
      default:
        text.erase(at, *gen::inRange<std::size_t>(1, text.size() - at + 1));
    }
    const auto r = parse_case(text);
    if (const auto* e = std::get_if<ParseError>(&r)) {
      const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
      RC_ASSERT(e->line >= 1);
      RC_ASSERT(e->line <= lines);
      RC_ASSERT(e->column >= 1);
      // At most one past the end of the line (where a missing token would go).
      std::size_t start = 0;
      for (int i = 1; i < e->line; ++i) start = text.find('\n', start) + 1;
      const std::size_t length = std::min(text.find('\n', start), text.size()) - start;
      RC_ASSERT(static_cast<std::size_t>(e->column) <= length + 2);
      RC_ASSERT(!e->message.empty());
    }
  });
}

}  // namespace
}  // namespace hypdiff::corpus
