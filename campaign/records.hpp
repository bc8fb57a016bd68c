// The JSON form of single journal records, shared by the journal and the worker protocol (a
// worker sends its batches and failures to the parent as these same lines).
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "campaign/journal.hpp"

namespace hypdiff::campaign {

// A record that is not what its type says; the message names the field.
class BadRecord : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

nlohmann::json config_to_json(const Config& c);
Config config_from_json(const nlohmann::json& j);
nlohmann::json batch_to_json(const Batch& b);  // with "type": "batch"
Batch batch_from_json(const nlohmann::json& j);
nlohmann::json failure_to_json(const FailureEntry& f);  // with "type": "failure"
FailureEntry failure_from_json(const nlohmann::json& j);
nlohmann::json crash_to_json(const WorkerCrash& c);  // with "type": "crash"
WorkerCrash crash_from_json(const nlohmann::json& j);

}  // namespace hypdiff::campaign
