#include "neuralfx/model_io.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "block_reader.hpp"
#include "registry.hpp"

namespace neuralfx {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
    throw ModelFileError(field + ": " + problem);
}

double read_number(const json& object, const char* key, const std::string& where) {
    auto it = object.find(key);
    if (it == object.end()) fail(where + "." + key, "missing");
    if (!it->is_number()) fail(where + "." + key, "expected a number");
    const double v = it->get<double>();
    if (!std::isfinite(v)) fail(where + "." + key, "not finite");
    return v;
}

float read_float32(const json& object, const char* key, const std::string& where) {
    const double v = read_number(object, key, where);
    if (!fits_float32(v)) fail(where + "." + key, "outside the float32 range");
    return static_cast<float>(v);
}

// Why a knob cannot have this name ("" when it can), as Python's reader says it
// (neuralfx/models/config_checks.py): a name holding '=' could not be set with
// `--knob NAME=VALUE`, and control characters (an escape sequence) reached the terminal through
// `neuralfx info` and the host's parameter list. The text is valid UTF-8 (nlohmann checked it).
std::string knob_name_problem(const std::string& name) {
    if (name.find('=') != std::string::npos) return "holds '=', which `--knob NAME=VALUE` could not set: rename the knob";
    for (size_t i = 0; i < name.size(); ++i) {
        const auto byte = static_cast<unsigned char>(name[i]);
        unsigned code = 0x100;  // none
        if (byte < 0x20 || byte == 0x7f) code = byte;  // C0 and DEL
        else if (byte == 0xc2 && i + 1 < name.size()) {
            const auto next = static_cast<unsigned char>(name[i + 1]);
            if (next >= 0x80 && next <= 0x9f) code = next;  // C1: U+0080 to U+009F
        }
        if (code != 0x100) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "%04X", code);
            return std::string("holds the control character U+") + hex + ": rename the knob";
        }
    }
    return "";
}

std::vector<KnobSpec> read_knobs(const json& root) {
    std::vector<KnobSpec> knobs;
    auto it = root.find("knobs");
    if (it == root.end()) return knobs;
    if (!it->is_array()) fail("knobs", "expected a list");
    if (it->size() > static_cast<size_t>(kMaxKnobs))
        fail("knobs", std::to_string(it->size()) + " knobs, above the limit of " + std::to_string(kMaxKnobs));
    for (size_t i = 0; i < it->size(); ++i) {
        const json& k = (*it)[i];
        const std::string where = "knobs[" + std::to_string(i) + "]";
        if (!k.is_object()) fail(where, "expected an object");
        KnobSpec spec;
        auto name = k.find("name");
        if (name == k.end() || !name->is_string() || name->get<std::string>().empty())
            fail(where + ".name", "missing or not a non-empty string");
        spec.name = name->get<std::string>();
        const std::string name_problem = knob_name_problem(spec.name);
        if (!name_problem.empty()) fail(where + ".name", name_problem);
        for (const auto& other : knobs)
            if (other.name == spec.name) fail(where + ".name", "'" + spec.name + "' is declared twice");
        spec.minimum = read_float32(k, "min", where);
        spec.maximum = read_float32(k, "max", where);
        spec.default_value = read_float32(k, "default", where);
        if (!(spec.maximum > spec.minimum)) fail(where + ".max", "must be greater than min");
        if (!std::isfinite(spec.maximum - spec.minimum)) fail(where + ".max", "max - min exceeds the float32 range");
        if (spec.default_value < spec.minimum || spec.default_value > spec.maximum)
            fail(where + ".default", "outside [min, max]");
        auto unit = k.find("unit");
        if (unit != k.end()) {
            if (!unit->is_string()) fail(where + ".unit", "expected a string");
            spec.unit = unit->get<std::string>();
        }
        knobs.push_back(spec);
    }
    return knobs;
}

// Python's json writes a non-finite float as NaN, Infinity or -Infinity, which JSON lacks: the
// parser's own message ("invalid literal", under "perhaps truncated") read as a damaged file. The
// literal where it stopped, or "" for any other error; named as the Python reader names it
// (modelfile.from_json).
std::string non_finite_literal_at(const std::string& text, std::size_t byte) {
    std::size_t end = std::min(byte, text.size());
    std::size_t start = end;
    while (start > 0 && (std::isalpha(static_cast<unsigned char>(text[start - 1])) || text[start - 1] == '-')) --start;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
    const std::string token = text.substr(start, end - start);
    return token == "NaN" || token == "Infinity" || token == "-Infinity" ? token : "";
}

}  // namespace

std::unique_ptr<Model> load_model_from_string(const std::string& text) {
    json root;
    try {
        // depth counts the containers around an event; a container's own start counts itself, so
        // that the limit is on the most lists and objects open at once (Python: modelfile._depth).
        root = json::parse(text, [](int depth, json::parse_event_t event, json&) {
            if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) ++depth;
            if (depth > kMaxJsonDepth)
                throw ModelFileError("not a model file: JSON nested more than " + std::to_string(kMaxJsonDepth) +
                                     " levels deep");
            return true;
        });
    } catch (const json::parse_error& e) {
        const std::string literal = non_finite_literal_at(text, e.byte);
        if (!literal.empty()) throw ModelFileError("not a model file (invalid JSON: " + literal + " is not a JSON value)");
        throw ModelFileError(std::string("not a model file (invalid JSON, perhaps truncated): ") + e.what());
    } catch (const json::exception& e) {
        throw ModelFileError(std::string("not a model file (a value cannot be represented): ") + e.what());
    }
    if (!root.is_object()) fail("(top level)", "expected a JSON object");
    auto format = root.find("format");
    if (format == root.end() || !format->is_string() || format->get<std::string>() != kModelFormatName)
        fail("format", std::string("missing or not \"") + kModelFormatName + "\": this is not a neuralfx model file");
    auto version = root.find("version");
    if (version == root.end() || !version->is_number_integer()) fail("version", "missing or not an integer");
    if (!integer_within(*version, kOldestModelFormatVersion, kModelFormatVersion))
        fail("version", "file is version " + version->dump() + ", this build reads versions " +
                            std::to_string(kOldestModelFormatVersion) + " to " + std::to_string(kModelFormatVersion) +
                            ": update neuralfx or re-export the model");
    const double sample_rate = read_number(root, "sample_rate", "(top level)");
    if (sample_rate < kMinSampleRate || sample_rate > kMaxSampleRate) fail("sample_rate", "outside " + sample_rate_range_text());
    // The rate converters (Resampler, the plugin's) take whole Hz only: a model at 44100.5 Hz
    // loaded and then ran at no other rate.
    if (sample_rate != std::floor(sample_rate)) {
        std::ostringstream m;  // 12 digits, as Python's reader says it
        m << std::setprecision(12) << sample_rate
          << " Hz is not a whole number of Hz: give the rate of the audio the model was trained on";
        fail("sample_rate", m.str());
    }

    std::vector<KnobSpec> knobs = read_knobs(root);

    auto blocks_it = root.find("blocks");
    if (blocks_it == root.end() || !blocks_it->is_array()) fail("blocks", "missing or not a list");
    if (blocks_it->empty()) fail("blocks", "empty: a model needs at least one block");
    std::vector<std::unique_ptr<Block>> blocks;
    auto delay_samples = std::make_shared<long long>(0);
    for (size_t i = 0; i < blocks_it->size(); ++i) {
        const BlockReader reader((*blocks_it)[i], static_cast<int>(i), knobs, sample_rate, delay_samples);
        blocks.push_back(build_block(reader));
        reader.check_all_weights_read();
    }

    std::string metadata = "{}";
    auto meta = root.find("metadata");
    if (meta != root.end()) {
        if (!meta->is_object()) fail("metadata", "expected an object");
        metadata = meta->dump();
    }
    return std::make_unique<Model>(sample_rate, std::move(knobs), std::move(blocks), std::move(metadata));
}

std::unique_ptr<Model> load_model_from_file(const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
        throw ModelFileError("cannot read model file '" + path + "': " + ec.message());
    if (!std::filesystem::exists(status)) throw ModelFileError("model file '" + path + "' does not exist");
    if (std::filesystem::is_directory(status))
        throw ModelFileError("'" + path + "' is a folder, not a model file: pass the .nfx file");
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ModelFileError("cannot open model file '" + path + "'" + (errno ? std::string(": ") + std::strerror(errno) : ""));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    try {
        return load_model_from_string(buffer.str());
    } catch (const ModelFileError& e) {
        throw ModelFileError("'" + path + "': " + e.what());
    }
}

}  // namespace neuralfx
