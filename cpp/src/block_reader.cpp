#include "block_reader.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

namespace neuralfx {

namespace {

std::string shape_text(const std::vector<int>& shape) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << "]";
    return s.str();
}

}  // namespace

void BlockReader::read_type_and_config() {
    auto t = block_.find("type");
    if (t == block_.end() || !t->is_string()) fail(".type", "missing or not a string");
    type_ = t->get<std::string>();
    auto c = block_.find("config");
    if (c == block_.end() || !c->is_object()) fail(".config", "missing or not an object");
}

BlockReader::BlockReader(const nlohmann::json& block, int index, const std::vector<KnobSpec>& knobs,
                         double model_sample_rate, std::shared_ptr<long long> delay_samples)
    : block_(block),
      where_("blocks[" + std::to_string(index) + "]"),
      knobs_(knobs),
      model_sample_rate_(model_sample_rate),
      read_(std::make_shared<std::set<std::string>>()),
      delay_samples_(std::move(delay_samples)) {
    weight_where_ = where_;
    if (!block_.is_object()) fail("", "expected an object");
    read_type_and_config();
    auto w = block_.find("weights");
    if (w != block_.end() && !w->is_object()) fail(".weights", "not an object");
    if (w != block_.end()) weights_ = &*w;
}

BlockReader::BlockReader(const BlockReader& parent, const nlohmann::json& inner, const std::string& field,
                         const std::string& weight_prefix)
    : block_(inner), weights_(parent.weights_), where_(parent.where_ + field), weight_where_(parent.weight_where_),
      prefix_(parent.prefix_ + weight_prefix), knobs_(parent.knobs_), model_sample_rate_(parent.model_sample_rate_),
      read_(parent.read_), delay_samples_(parent.delay_samples_) {
    if (!block_.is_object()) fail("", "expected an object {\"type\": ..., \"config\": {...}}");
    read_type_and_config();
    if (block_.find("weights") != block_.end())
        throw ModelFileError(where_ + ".weights: an inner block's weights belong in the DryWet block's weights, named '" +
                             prefix_ + "<weight>'");
}

void BlockReader::check_entries(const nlohmann::json& object, const std::string& field,
                                const std::vector<std::string>& allowed) const {
    if (!object.is_object()) return;  // the reader of that field says what it expected
    for (const auto& item : object.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) != allowed.end()) continue;
        std::string names;
        for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
        fail(field, "unknown entry '" + item.key() + "' (its entries: " + names + ")");
    }
}

void BlockReader::claim_delay_line(long long samples, const std::string& field) const {
    *delay_samples_ += samples;
    if (*delay_samples_ > kMaxDelayLineSamples)
        fail(field, "the model's Delay lines would hold " + std::to_string(*delay_samples_) +
                        " samples together, above the limit of " + std::to_string(kMaxDelayLineSamples) +
                        " (one 10 s Delay at 768 kHz): use a shorter max_delay_ms or fewer Delay blocks");
}

void BlockReader::fail(const std::string& field, const std::string& problem) const {
    static const std::string kWeights = ".weights";
    if (field.compare(0, kWeights.size(), kWeights) == 0) {
        const std::string name = field.size() > kWeights.size() ? field.substr(kWeights.size() + 1) : "";
        throw ModelFileError(weight_where_ + kWeights + (name.empty() ? "" : "." + prefix_ + name) +
                             ": " + problem);
    }
    throw ModelFileError(where_ + field + ": " + problem);
}

const nlohmann::json* BlockReader::config_value(const char* key) const {
    const auto& config = block_.at("config");
    auto it = config.find(key);
    return it == config.end() ? nullptr : &*it;
}

int BlockReader::get_int(const char* key, int minimum, int maximum) const {
    const nlohmann::json* v = config_value(key);
    const std::string field = std::string(".config.") + key;
    if (!v) fail(field, "missing");
    if (!v->is_number_integer()) fail(field, "expected an integer");
    if (!integer_within(*v, minimum, maximum))
        fail(field, v->dump() + " is outside [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]");
    return v->get<int>();
}

int BlockReader::get_int(const char* key, int minimum, int maximum, int fallback) const {
    return config_value(key) ? get_int(key, minimum, maximum) : fallback;
}

float BlockReader::get_float(const char* key, float minimum, float maximum) const {
    const nlohmann::json* v = config_value(key);
    const std::string field = std::string(".config.") + key;
    if (!v) fail(field, "missing");
    if (!v->is_number()) fail(field, "expected a number");
    const double value = v->get<double>();
    if (!std::isfinite(value) || value < minimum || value > maximum) {
        std::ostringstream s;
        s << value << " is outside [" << minimum << ", " << maximum << "]";
        fail(field, s.str());
    }
    return static_cast<float>(value);
}

float BlockReader::get_float(const char* key, float minimum, float maximum, float fallback) const {
    return config_value(key) ? get_float(key, minimum, maximum) : fallback;
}

bool BlockReader::get_bool(const char* key, bool fallback) const {
    const nlohmann::json* v = config_value(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(std::string(".config.") + key, "expected true or false");
    return v->get<bool>();
}

std::string BlockReader::get_string(const char* key, const std::vector<std::string>& allowed) const {
    const nlohmann::json* v = config_value(key);
    const std::string field = std::string(".config.") + key;
    if (!v) fail(field, "missing");
    if (!v->is_string()) fail(field, "expected a string");
    std::string value = v->get<std::string>();
    for (const auto& a : allowed)
        if (a == value) return value;
    std::string choices;
    for (const auto& a : allowed) choices += (choices.empty() ? "" : ", ") + a;
    fail(field, "'" + value + "' is not one of: " + choices);
}

std::string BlockReader::get_string(const char* key, const std::vector<std::string>& allowed,
                                    const std::string& fallback) const {
    return config_value(key) ? get_string(key, allowed) : fallback;
}

std::vector<int> BlockReader::get_int_list(const char* key, int minimum, int maximum) const {
    const nlohmann::json* v = config_value(key);
    const std::string field = std::string(".config.") + key;
    if (!v) fail(field, "missing");
    if (!v->is_array()) fail(field, "expected a list of integers");
    std::vector<int> out;
    for (size_t i = 0; i < v->size(); ++i) {
        const auto& e = (*v)[i];
        if (!integer_within(e, minimum, maximum))
            fail(field + "[" + std::to_string(i) + "]",
                 "expected an integer in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]");
        out.push_back(e.get<int>());
    }
    return out;
}

std::vector<int> BlockReader::knob_indices(const char* key) const {
    const nlohmann::json* v = config_value(key);
    const std::string field = std::string(".config.") + key;
    std::vector<int> out;
    if (!v) return out;
    if (!v->is_array()) fail(field, "expected a list of knob names");
    for (size_t i = 0; i < v->size(); ++i) {
        const auto& e = (*v)[i];
        if (!e.is_string()) fail(field + "[" + std::to_string(i) + "]", "expected a knob name");
        const std::string name = e.get<std::string>();
        int found = -1;
        for (size_t k = 0; k < knobs_.size(); ++k)
            if (knobs_[k].name == name) found = static_cast<int>(k);
        if (found < 0) fail(field + "[" + std::to_string(i) + "]", "knob '" + name + "' is not declared in \"knobs\"");
        out.push_back(found);
    }
    return out;
}

std::vector<float> BlockReader::weight(const std::string& name, const std::vector<int>& shape) const {
    const std::string field = ".weights." + name;
    if (!weights_) fail(".weights", "missing");
    auto it = weights_->find(prefix_ + name);
    if (it == weights_->end()) fail(field, "missing");
    read_->insert(prefix_ + name);
    if (!it->is_object()) fail(field, "expected {\"shape\": [...], \"data\": [...]}");
    auto s = it->find("shape");
    auto d = it->find("data");
    if (s == it->end() || !s->is_array()) fail(field + ".shape", "missing or not a list");
    if (d == it->end() || !d->is_array()) fail(field + ".data", "missing or not a list");
    std::vector<int> stored;
    for (const auto& e : *s) {
        if (!integer_within(e, 0, std::numeric_limits<int>::max())) fail(field + ".shape", "expected integers from 0");
        stored.push_back(e.get<int>());
    }
    if (stored != shape) fail(field + ".shape", "is " + shape_text(stored) + ", expected " + shape_text(shape));
    size_t count = 1;
    for (int n : shape) count *= static_cast<size_t>(n);
    if (d->size() != count)
        fail(field + ".data", "holds " + std::to_string(d->size()) + " values, shape needs " + std::to_string(count));
    std::vector<float> out(count);
    for (size_t i = 0; i < count; ++i) {
        const auto& e = (*d)[i];
        if (!e.is_number()) fail(field + ".data[" + std::to_string(i) + "]", "not a number");
        const double value = e.get<double>();
        if (!fits_float32(value)) fail(field + ".data[" + std::to_string(i) + "]", "not a finite float32 value");
        out[i] = static_cast<float>(value);
    }
    return out;
}

void BlockReader::check_all_weights_read() const {
    if (!weights_) return;
    std::string unread;
    for (const auto& item : weights_->items())
        if (read_->count(item.key()) == 0) unread += (unread.empty() ? "'" : ", '") + item.key() + "'";
    if (!unread.empty())
        throw ModelFileError(weight_where_ + ".weights: unexpected weight(s) " + unread + " for " + type_ +
                             ", which does not use them as configured (a config entry missing or wrong?)");
}

}  // namespace neuralfx
