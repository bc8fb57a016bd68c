// The real binary on a fixture campaign directory, then the page in headless Chromium: it must
// render, run its script without an error, and draw charts (checked on the screenshot's pixels).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "campaign/journal.hpp"
#include "tests/report/count.hpp"
#include "tests/report/png.hpp"

namespace hypdiff::report {
namespace {

namespace fs = std::filesystem;
using report::testing::count_of;

struct Result {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::size_t lines(const std::string& s) { return count_of(s, "\n"); }

// One sample of `hypdiff mutants --json` output (cli/mutants_cmd.cpp).
const char* kMutants = R"({"target": "native", "against": "model:intended", "seed": 1,
 "budget_seconds": 2.0, "mutants": [
 {"id": 1, "name": "assign-keeps-host-mapping", "area": "ownership", "description":
  "a frame given to a VM stays mapped in the host", "endangers": "VMs", "expected_class":
  "invariant", "verdict": "killed", "seconds": 0.14, "cases": 9, "steps": 1036,
  "shrink_seconds": 0.3, "class": "invariant", "signature": "invariant/-/s2page/host_npt",
  "summary": "s", "original_length": 31, "shrunk_length": 4},
 {"id": 3, "name": "decrypt-gfn-zero", "area": "ownership", "description": "gfn 0 <not INVALID>",
  "endangers": "VMs", "expected_class": "divergence", "verdict": "killed", "seconds": 0.0004,
  "cases": 1, "steps": 7, "shrink_seconds": 0.01, "class": "divergence", "signature": "d",
  "summary": "s", "original_length": 7, "shrunk_length": 2},
 {"id": 4, "name": "decrypt-ignores-smmu-count", "area": "ownership", "description": "d",
  "endangers": "VMs", "expected_class": "outcome", "verdict": "equivalent",
  "reason": "no SMMU mapping of a host page can exist"},
 {"id": 7, "name": "s2pt-pool-check-off-by-one", "area": "page-tables", "description":
  "the last page of a pool is never handed out", "endangers": "everyone", "expected_class":
  "outcome", "verdict": "survived", "seconds": 2.0, "cases": 700, "steps": 21168,
  "shrink_seconds": 0},
 {"id": 24, "name": "revoke-skips-host-unmap", "area": "grant-revoke", "description": "d",
  "endangers": "VMs", "expected_class": "invariant", "verdict": "killed", "seconds": 1.34,
  "cases": 80, "steps": 9686, "shrink_seconds": 0.8, "class": "invariant", "signature": "i",
  "summary": "s", "original_length": 55, "shrunk_length": 11}],
 "score": {"mutants": 5, "killed": 3, "survived": 1, "equivalent": 1, "median_seconds": 0.14,
           "median_shrunk_length": 4}})";

class ReportE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() /
           ("hypdiff_report_e2e_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(tmp_);
    dir_ = tmp_ / "campaign";
    fs::create_directories(dir_ / "failures");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(tmp_);
  }

  Result run(const std::string& args) const {
    const fs::path out = tmp_ / "stdout", err = tmp_ / "stderr";
    const std::string cmd = std::string(HYPDIFF_EXE) + " " + args + " >" + quoted(out.string()) +
                            " 2>" + quoted(err.string());
    Result r;
    const int st = std::system(cmd.c_str());
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // A campaign of 2 workers, 24 batches over a minute, two failure signatures (three records),
  // one worker crash, a coverage gap at hypercall 23, and a mutants file.
  void write_fixture() const {
    campaign::JournalWriter w(dir_ / "journal.jsonl");
    campaign::Config c;
    c.target = "native";
    c.against = "model:intended";
    c.seed = 42;
    c.batch_cases = 50;
    c.hypdiff_version = "hypdiff 0.1";
    w.start(c);
    for (std::uint64_t b = 0; b < 24; ++b) {
      campaign::Batch x;
      x.batch = b;
      x.worker = static_cast<int>(b % 2);
      x.cases = 50;
      x.steps = 4000 + (b * 397) % 1500;
      x.checks = x.steps * 3;
      x.failing_cases = b == 5 || b == 17 ? 1 : 0;
      x.seconds = 4.5 + static_cast<double>(b % 3) * 0.4;
      x.at = 2.5 * static_cast<double>(b + 1);
      for (std::size_t h = 0; h < 9; ++h) x.coverage.by_handler[h] = {300 + h * 20, h % 3, h % 2};
      for (int n = 13; n <= 29; ++n)
        x.coverage.by_hvc[n] = {n == 23 ? 0u : 10u + static_cast<unsigned>(n), 2,
                                n == 23 ? 3u : 0u};
      w.batch(x);
    }
    campaign::FailureEntry f;
    f.signature = "divergence/host/npt/host_hvc";
    f.cls = "divergence";
    f.principal = "host";
    f.field = "npt";
    f.handler = "host_hvc";
    f.op = "host_hvc(x0=16 REMAP_VM_IMAGE, x1=2, x2=0x41)";
    f.summary = "host's view differs after REMAP_VM_IMAGE";
    f.details = {"host: npt[0x41].pfn: target 0x80041, model 0x41",
                 "host: npt[0x41].perm: target rw, model r"};
    f.case_file = "failures/divergence-host-npt-host_hvc.case";
    f.length = 3;
    f.original_length = 37;
    f.batch = 5;
    f.case_seed = 9001;
    f.at = 14.2;
    w.failure(f);
    f.length = 5;
    f.at = 44.0;
    f.batch = 17;
    w.failure(f);
    campaign::FailureEntry g = f;
    g.signature = "invariant/-/s2page/vm_exit";
    g.cls = "invariant";
    g.principal = "";
    g.field = "s2page_owner_consistent";
    g.handler = "vm_exit";
    g.op = "vm_exit(vm=1, vcpu=0, esr=<HVC64>)";
    g.summary = "invariant s2page_owner_consistent fails at pfn 0x41";
    g.details = {"state_inv: s2page[0x41]: owner 2 but mapped in host npt"};
    g.case_file = "failures/invariant-s2page-vm_exit.case";
    g.length = 2;
    g.at = 31.5;
    g.batch = 11;
    w.failure(g);
    campaign::WorkerCrash crash;
    crash.worker = 1;
    crash.batch = 9;
    crash.reason = "killed by SIGSEGV";
    crash.at = 23;
    w.crash(crash);
    w.stop("duration reached", 60);
    std::ofstream(dir_ / f.case_file)
        << "# hypdiff case 1\ntarget native\nagainst model:intended\nop host_hvc x0=16 x1=2 "
           "x2=0x41\nop host_npt addr=0x41000\nop mem_load <host> 0x41000\n";
    std::ofstream(dir_ / g.case_file) << "# hypdiff case 1\nop vcpu_run vm=1\nop vm_exit vm=1\n";
    std::ofstream(dir_ / "mutants.json") << kMutants;
  }

  fs::path tmp_, dir_;
};

TEST_F(ReportE2E, WritesTheReportWithEverySection) {
  write_fixture();
  const Result r = run("report " + quoted(dir_.string()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hypdiff report: wrote " + (dir_ / "report.html").string() + "\n");
  EXPECT_EQ(r.err, "");
  const std::string page = slurp(dir_ / "report.html");
  EXPECT_NE(page.find("<td>native against model:intended</td>"), std::string::npos);
  EXPECT_NE(page.find("<div class=\"value\">1,200</div><div class=\"label\">cases"),
            std::string::npos);
  // Charts: 3 over time, 2 coverage, 1 mutants.
  EXPECT_EQ(count_of(page, "<svg"), 6u);
  EXPECT_NE(page.find("Gaps: hvc23"), std::string::npos);
  EXPECT_EQ(count_of(page, "<article class=\"failure\""), 2u);
  EXPECT_NE(page.find("op host_npt addr=0x41000"), std::string::npos);
  EXPECT_NE(page.find("op mem_load &lt;host&gt; 0x41000"), std::string::npos);
  EXPECT_NE(page.find("host: npt[0x41].perm: target rw, model r"), std::string::npos);
  EXPECT_NE(page.find("vm_exit(vm=1, vcpu=0, esr=&lt;HVC64&gt;)"), std::string::npos);
  EXPECT_NE(page.find("killed by SIGSEGV"), std::string::npos);
  EXPECT_NE(page.find("5 mutants: 3 killed, 1 survived, 1 equivalent; score 3/4 = 75.0%"),
            std::string::npos);
  EXPECT_NE(page.find("gfn 0 &lt;not INVALID&gt;"), std::string::npos);
  EXPECT_NE(page.find("<td class=\"v-survived\">survived</td>"), std::string::npos);
}

TEST_F(ReportE2E, OptionsOutMutantsAndTitle) {
  write_fixture();
  fs::rename(dir_ / "mutants.json", tmp_ / "m.json");
  fs::remove(dir_ / "failures/invariant-s2page-vm_exit.case");
  const fs::path out = tmp_ / "page.html";
  Result r = run("report " + quoted(dir_.string()) + " --out " + quoted(out.string()) +
                 " --title 'Nightly <run>'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string page = slurp(out);
  EXPECT_NE(page.find("<h1>Nightly &lt;run&gt;</h1>"), std::string::npos);
  EXPECT_NE(page.find("No mutant scores"), std::string::npos);
  EXPECT_NE(page.find("failures/invariant-s2page-vm_exit.case</code> is missing"),
            std::string::npos);
  r = run("report " + quoted(dir_.string()) + " --out " + quoted(out.string()) + " --mutants " +
          quoted((tmp_ / "m.json").string()));
  ASSERT_EQ(r.status, 0) << r.err;
  page = slurp(out);
  EXPECT_NE(page.find("revoke-skips-host-unmap"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "report.html"));
}

TEST_F(ReportE2E, AJournalWithoutBatchesGivesAPageThatSaysSo) {
  {
    campaign::JournalWriter w(dir_ / "journal.jsonl");
    campaign::Config c;
    c.batch_cases = 200;
    w.start(c);
  }
  // A kill mid-write leaves a torn last line; the page says it was ignored.
  std::ofstream(dir_ / "journal.jsonl", std::ios::app) << "{\"type\":\"bat";
  const Result r = run("report " + quoted(dir_.string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir_ / "report.html");
  EXPECT_NE(page.find("No batch has finished yet: there is nothing to chart."), std::string::npos);
  EXPECT_NE(page.find("last line was cut short"), std::string::npos);
  EXPECT_NE(page.find("No failures"), std::string::npos);
  EXPECT_EQ(count_of(page, "<svg"), 0u);
}

TEST_F(ReportE2E, ErrorsAreOneLineWithExitTwo) {
  Result r = run("report " + quoted((tmp_ / "nope").string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "hypdiff: report: " + (tmp_ / "nope").string() + ": no such campaign directory\n");

  r = run("report " + quoted(dir_.string()));  // no journal yet
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("journal.jsonl"), std::string::npos) << r.err;

  std::ofstream(dir_ / "journal.jsonl") << "{\"this is\": \"not a journal\"}\n{]\n";
  r = run("report " + quoted(dir_.string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("hypdiff: report: " + (dir_ / "journal.jsonl").string() + ":", 0), 0u)
      << r.err;

  fs::remove(dir_ / "journal.jsonl");
  write_fixture();
  std::ofstream(dir_ / "mutants.json") << "{\"mutants\": [{\"id\": 1, \"verdict\": \"maybe\"}]}";
  r = run("report " + quoted(dir_.string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "hypdiff: report: " + (dir_ / "mutants.json").string() +
                       ": mutant 1: 'verdict' must be killed, survived or equivalent\n");
  r = run("report " + quoted(dir_.string()) + " --mutants " +
          quoted((tmp_ / "none.json").string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;

  fs::remove(dir_ / "mutants.json");
  r = run("report " + quoted(dir_.string()) + " --out " +
          quoted((tmp_ / "no/dir/r.html").string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  // Nothing was written by the failed runs, not even half a page.
  EXPECT_FALSE(fs::exists(dir_ / "report.html"));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(ReportE2E, RendersInHeadlessChromium) {
  const char* browser = "/usr/bin/chromium";
  ASSERT_TRUE(fs::exists(browser))
      << "Chromium is missing (" << browser << "): install it with ci/bootstrap; the report's "
      << "acceptance test renders the page headless";
  write_fixture();
  const Result r = run("report " + quoted(dir_.string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path png = tmp_ / "report.png", dom = tmp_ / "dom.html", log = tmp_ / "chromium.log";
  // A fresh profile, no network, one invocation for both the screenshot and the DOM.
  const std::string cmd =
      "timeout 90 " + std::string(browser) +
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --disable-dev-shm-usage --user-data-dir=" +
      quoted((tmp_ / "profile").string()) + " --screenshot=" + quoted(png.string()) +
      " --dump-dom --window-size=1280,2400 " + quoted("file://" + (dir_ / "report.html").string()) +
      " >" + quoted(dom.string()) + " 2>" + quoted(log.string());
  const int st = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "chromium failed:\n" << slurp(log);

  const std::string d = slurp(dom);
  EXPECT_NE(d.find("data-rendered=\"ok\""), std::string::npos)
      << "the page's script did not finish";
  EXPECT_EQ(d.find("data-errors="), std::string::npos) << "JavaScript errors: " << d.substr(0, 400);
  EXPECT_EQ(count_of(d, "<svg"), 6u);

  const std::string bytes = slurp(png);
  const auto size = report::testing::png_size(bytes);
  ASSERT_TRUE(size) << "not a PNG: " << png;
  EXPECT_EQ(size->first, 1280u);
  EXPECT_EQ(size->second, 2400u);
  // A blank page of this size compresses to about 14 KB.
  EXPECT_GT(bytes.size(), 60'000u);
#ifdef HYPDIFF_HAVE_ZLIB
  std::string why;
  const auto img = report::testing::decode_png(bytes, &why);
  ASSERT_TRUE(img) << why;
  const auto near = [](const std::uint8_t* p, int red, int green, int blue) {
    return std::abs(p[0] - red) <= 8 && std::abs(p[1] - green) <= 8 && std::abs(p[2] - blue) <= 8;
  };
  std::size_t background = 0, ok_bars = 0, halted_bars = 0, throughput = 0, header = 0;
  for (std::size_t i = 0; i + 2 < img->rgb.size(); i += 3) {
    const std::uint8_t* p = &img->rgb[i];
    if (near(p, 255, 255, 255) || near(p, 0xf6, 0xf7, 0xf9)) ++background;
    if (near(p, 0x43, 0xa0, 0x47)) ++ok_bars;      // coverage: ok
    if (near(p, 0xfb, 0x8c, 0x00)) ++halted_bars;  // coverage: halted
    if (near(p, 0x15, 0x65, 0xc0)) ++throughput;   // the all-workers line
    if (near(p, 0x26, 0x32, 0x38)) ++header;
  }
  const double pixels = static_cast<double>(img->width) * img->height;
  EXPECT_LT(static_cast<double>(background) / pixels, 0.97) << "the page looks blank";
  EXPECT_GT(ok_bars, 20'000u) << "no coverage bars drawn";
  EXPECT_GT(halted_bars, 200u);
  EXPECT_GT(throughput, 300u) << "no throughput line drawn";
  EXPECT_GT(header, 30'000u) << "no page header";
#endif
}

}  // namespace
}  // namespace hypdiff::report
