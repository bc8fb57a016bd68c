// Coverage as it is stored in journal batch records: compact, only counts that are not zero,
// and readable back (cli/common.cpp's coverage_json is for people and drops nothing).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "harness/coverage.hpp"

namespace hypdiff::campaign {

// {"handlers":{"host_hvc":[ok,halted,undefined],...},"hvc":{"13":[...],"other":[...]}}
nlohmann::json coverage_to_json(const harness::Coverage& c);
// Throws std::invalid_argument naming what is wrong.
harness::Coverage coverage_from_json(const nlohmann::json& j);

}  // namespace hypdiff::campaign
