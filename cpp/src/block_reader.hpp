#pragma once
// Typed, validated access to one entry of a model file's "blocks" list. Every error names the
// JSON path of the bad field, e.g. "blocks[0].config.hidden_size: expected an integer in [1, 1024]".

#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "neuralfx/knobs.hpp"
#include "neuralfx/model_io.hpp"

namespace neuralfx {

// Whether a JSON number converts to a finite float32: a finite double can exceed FLT_MAX, and
// converting it would be undefined (in practice inf).
inline bool fits_float32(double v) { return std::fabs(v) <= static_cast<double>(std::numeric_limits<float>::max()); }

// Whether a JSON value is an integer in [minimum, maximum]. Read integers through this before
// get<int>(): nlohmann's conversions wrap, so "version": 4294967297 read as int is 1.
inline bool integer_within(const nlohmann::json& v, long long minimum, long long maximum) {
    if (v.is_number_unsigned()) {
        const auto u = v.get<unsigned long long>();
        return maximum >= 0 && u <= static_cast<unsigned long long>(maximum) &&
               (minimum <= 0 || u >= static_cast<unsigned long long>(minimum));
    }
    if (!v.is_number_integer()) return false;
    const long long i = v.get<long long>();
    return i >= minimum && i <= maximum;
}

class BlockReader {
public:
    // delay_samples: the model's tally of Delay line samples, shared by all its blocks' readers.
    BlockReader(const nlohmann::json& block, int index, const std::vector<KnobSpec>& knobs, double model_sample_rate,
                std::shared_ptr<long long> delay_samples);

    // An inner block of a container (DryWet): `inner` is its {"type", "config"} entry at
    // `field` below the parent (".config.blocks[1]"); its weights live in the top-level block's
    // "weights" under the parent's prefix + weight_prefix ("blocks.1."), as torch's state_dict
    // names them. Config errors name the inner path (blocks[0].config.blocks[1].config.mode),
    // weight errors the stored name (blocks[0].weights.blocks.1.gain_db).
    BlockReader(const BlockReader& parent, const nlohmann::json& inner, const std::string& field,
                const std::string& weight_prefix);

    // The model file's rate: blocks that need a rate read it here or check theirs against it.
    double model_sample_rate() const { return model_sample_rate_; }

    const std::string& type() const { return type_; }

    int get_int(const char* key, int minimum, int maximum) const;
    int get_int(const char* key, int minimum, int maximum, int fallback) const;
    float get_float(const char* key, float minimum, float maximum) const;
    float get_float(const char* key, float minimum, float maximum, float fallback) const;
    bool get_bool(const char* key, bool fallback) const;
    std::string get_string(const char* key, const std::vector<std::string>& allowed) const;
    std::string get_string(const char* key, const std::vector<std::string>& allowed, const std::string& fallback) const;
    std::vector<int> get_int_list(const char* key, int minimum, int maximum) const;

    // The knob names listed under config[key], resolved to indices into the model's knobs.
    std::vector<int> knob_indices(const char* key) const;

    // weights[name], checked to have exactly this shape; data in row-major order.
    std::vector<float> weight(const std::string& name, const std::vector<int>& shape) const;

    // Adds a Delay's line to the model's tally; fails at `field` when the model's lines together
    // would pass kMaxDelayLineSamples.
    void claim_delay_line(long long samples, const std::string& field) const;

    // Fails naming the stored weights that no weight() call read, once the block is built: a
    // 2-layer LSTM's file without "num_layers" ran as one layer, its second layer's weights unread.
    void check_all_weights_read() const;

    // field: ".config..." or ".weights.<name>" relative to this block (a weight name without
    // this reader's prefix; the message shows where the file stores it).
    [[noreturn]] void fail(const std::string& field, const std::string& problem) const;
    // Fails naming the first entry of `object` (at `field`) that is not in `allowed`.
    void check_entries(const nlohmann::json& object, const std::string& field,
                       const std::vector<std::string>& allowed) const;

    // For blocks whose config nests (ParametricEQ bands, knob bindings): the raw config object
    // and the model's knobs; read them through fail() so errors still name the field.
    const nlohmann::json& config() const { return block_.at("config"); }
    const std::vector<KnobSpec>& knob_specs() const { return knobs_; }

private:
    // "type" (a string) and "config" (an object), shared by a model's blocks and inner blocks.
    void read_type_and_config();
    const nlohmann::json* config_value(const char* key) const;

    const nlohmann::json& block_;
    const nlohmann::json* weights_ = nullptr;  // the top-level block's "weights", if any
    std::string where_;
    std::string weight_where_;  // the top-level block's path, where the weights are stored
    std::string prefix_;        // this block's weight-name prefix there
    std::string type_;
    const std::vector<KnobSpec>& knobs_;
    double model_sample_rate_;
    // The stored names weight() read, shared with the readers of inner blocks (same weights).
    std::shared_ptr<std::set<std::string>> read_;
    std::shared_ptr<long long> delay_samples_;
};

}  // namespace neuralfx
