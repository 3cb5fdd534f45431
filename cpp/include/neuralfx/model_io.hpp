#pragma once
// Reading model files (*.nfx). The schema is owned by neuralfx/modelfile.py; this is its
// C++ reader. Every failure is a ModelFileError whose message names the bad field.

#include <memory>
#include <stdexcept>
#include <string>

#include "model.hpp"

namespace neuralfx {

// The versions this build reads (neuralfx/modelfile.py: OLDEST_VERSION, FORMAT_VERSION). Version 2
// added the dynamics blocks' smoothing and rms_attack_ms, which version-1 readers would ignore.
constexpr int kOldestModelFormatVersion = 1;
constexpr int kModelFormatVersion = 2;
constexpr const char* kModelFormatName = "neuralfx-model";

class ModelFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::unique_ptr<Model> load_model_from_string(const std::string& json_text);
std::unique_ptr<Model> load_model_from_file(const std::string& path);

}  // namespace neuralfx
