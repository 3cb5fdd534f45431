#include "dsp_params.hpp"

#include <cmath>
#include <sstream>

namespace neuralfx::dsp {

namespace {

std::string range_text(const ParamSpec& s) {
    std::ostringstream t;
    t << "[" << s.minimum << ", " << s.maximum << "]" << (s.unit.empty() ? "" : " ") << s.unit;
    return t.str();
}

}  // namespace

std::vector<Param> read_params(const BlockReader& r, const nlohmann::json& config, const std::string& field,
                               const std::string& prefix, const std::vector<ParamSpec>& specs) {
    std::vector<Param> params(specs.size());
    for (size_t p = 0; p < specs.size(); ++p) {
        const ParamSpec& s = specs[p];
        params[p].minimum = s.minimum;
        params[p].maximum = s.maximum;
        const std::string weight_field = ".weights." + prefix + s.name;
        const double value = static_cast<double>(r.weight(prefix + s.name, {1})[0]);
        // Weights are float32: compare in float so a range end written by Python round-trips.
        if (static_cast<float>(value) < static_cast<float>(s.minimum) ||
            static_cast<float>(value) > static_cast<float>(s.maximum)) {
            std::ostringstream m;
            m << "parameter '" << s.name << "' = " << value << " is outside " << range_text(s);
            r.fail(weight_field, m.str());
        }
        params[p].value = std::clamp(value, s.minimum, s.maximum);
    }
    auto knobs = config.find("knobs");
    if (knobs == config.end()) return params;
    if (!knobs->is_object()) r.fail(field + ".knobs", "expected an object {parameter: knob name}");
    const auto& declared = r.knob_specs();
    for (auto it = knobs->begin(); it != knobs->end(); ++it) {
        const std::string where = field + ".knobs." + it.key();
        size_t p = 0;
        while (p < specs.size() && specs[p].name != it.key()) ++p;
        if (p == specs.size()) {
            std::string known;
            for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
            r.fail(where, "'" + it.key() + "' is not a parameter of this block (known: " + known + ")");
        }
        if (!it.value().is_string()) r.fail(where, "expected a knob name");
        const std::string name = it.value().get<std::string>();
        int found = -1;
        for (size_t k = 0; k < declared.size(); ++k)
            if (declared[k].name == name) found = static_cast<int>(k);
        if (found < 0) r.fail(where, "knob '" + name + "' is not declared in \"knobs\"");
        const KnobSpec& knob = declared[static_cast<size_t>(found)];
        // The knob's 0..1 value maps onto the parameter's range, so the knob must span exactly
        // that range for its displayed value to be the parameter's value.
        if (knob.minimum != static_cast<float>(specs[p].minimum) || knob.maximum != static_cast<float>(specs[p].maximum)) {
            std::ostringstream m;
            m << "knob '" << name << "' has range [" << knob.minimum << ", " << knob.maximum << "]; parameter '"
              << specs[p].name << "' needs exactly " << range_text(specs[p]);
            r.fail(where, m.str());
        }
        params[p].knob = found;
    }
    return params;
}

double read_sample_rate(const BlockReader& r) {
    // Validates presence, type and range.
    r.get_float("sample_rate", static_cast<float>(kMinSampleRate), static_cast<float>(kMaxSampleRate));
    const double rate = r.config().at("sample_rate").get<double>();
    // One rate per model: a block designed for another rate would silently sound different.
    if (rate != r.model_sample_rate()) {
        std::ostringstream m;  // "44100 Hz", as Python's reader says it (std::to_string gave 44100.000000)
        m << rate << " Hz differs from the model's sample_rate " << r.model_sample_rate() << " Hz";
        r.fail(".config.sample_rate", m.str());
    }
    return rate;
}

std::vector<ParamSpec> biquad_specs(double sample_rate) {
    // Same numbers as neuralfx/dsp/biquad.py.
    return {{"frequency", 20.0, 0.49 * sample_rate, "Hz"},
            {"gain_db", -24.0, 24.0, "dB"},
            {"q", 0.1, 20.0, ""}};
}

BiquadFilter read_biquad(const BlockReader& r, const nlohmann::json& band, const std::string& field,
                         const std::string& prefix, double sample_rate) {
    static const char* const names[] = {"lowpass", "highpass", "bandpass", "notch", "peak",
                                        "lowshelf", "highshelf", "lowpass1", "highpass1"};
    static const BiquadMode modes[] = {BiquadMode::lowpass, BiquadMode::highpass, BiquadMode::bandpass,
                                       BiquadMode::notch,   BiquadMode::peak,     BiquadMode::lowshelf,
                                       BiquadMode::highshelf, BiquadMode::lowpass1, BiquadMode::highpass1};
    if (!band.is_object()) r.fail(field, "expected an object {\"mode\": ..., \"knobs\": {...}}");
    auto m = band.find("mode");
    if (m == band.end() || !m->is_string()) r.fail(field + ".mode", "missing or not a string");
    const std::string mode = m->get<std::string>();
    constexpr int kModes = sizeof(modes) / sizeof(modes[0]);
    int found = -1;
    std::string known;
    for (int i = 0; i < kModes; ++i) {
        if (mode == names[i]) found = i;
        known += (i ? ", " : "") + std::string(names[i]);
    }
    if (found < 0) r.fail(field + ".mode", "'" + mode + "' is not one of: " + known);
    const std::vector<Param> p = read_params(r, band, field, prefix, biquad_specs(sample_rate));
    return BiquadFilter(modes[found], sample_rate, p[0], p[1], p[2]);
}

BiquadFilter read_band(const BlockReader& r, const nlohmann::json& band, const std::string& field,
                       const std::string& prefix, double sample_rate) {
    r.check_entries(band, field, {"mode", "knobs", "frequency", "gain_db", "q"});
    // Starting values for a template; the weights hold the filter's values. Checked as Python's
    // Biquad checks them, so both readers take the same files.
    for (const ParamSpec& spec : biquad_specs(sample_rate)) {
        auto it = band.find(spec.name);
        if (it == band.end()) continue;
        if (!it->is_number() || !(it->get<double>() >= spec.minimum && it->get<double>() <= spec.maximum))
            r.fail(field + "." + spec.name, it->dump() + " is not a number in " + range_text(spec));
    }
    return read_biquad(r, band, field, prefix, sample_rate);
}

LevelDetector read_level_detector(const BlockReader& r, const std::string& fallback, double sample_rate) {
    const std::string name = r.get_string("detector", {"peak", "rms"}, fallback);
    // dynamics.py: DEFAULT_RMS_MS, RMS_MS_RANGE, RMS_ATTACK_MS_RANGE; compared and used in double,
    // as torch does. rms_attack_ms defaults to rms_ms (a plain average, as before it existed),
    // also when null, as Python's reader takes it (rms_attack_ms=None).
    auto read_ms = [&](const char* key, double absent, double lo, double hi, bool null_is_absent = false) {
        auto it = r.config().find(key);
        if (it == r.config().end() || (null_is_absent && it->is_null())) return absent;
        const std::string where = std::string(".config.") + key;
        if (!it->is_number()) r.fail(where, "expected a number");
        const double ms = it->get<double>();
        if (!(ms >= lo && ms <= hi)) {
            std::ostringstream m;
            m << ms << " is outside [" << lo << ", " << hi << "] ms";
            r.fail(where, m.str());
        }
        return ms;
    };
    const double rms_ms = read_ms("rms_ms", 10.0, 0.1, 1000.0);
    const double rms_attack_ms = read_ms("rms_attack_ms", rms_ms, 0.0, 1000.0, true);
    return LevelDetector(name == "rms" ? Detector::rms : Detector::peak, rms_attack_ms, rms_ms, sample_rate);
}

Smoothing read_smoothing(const BlockReader& r) {
    return r.get_string("smoothing", {"gain", "level"}, "gain") == "level" ? Smoothing::level : Smoothing::gain;
}

ParamSpec attack_ms_spec() { return {"attack_ms", 0.1, 500.0, "ms"}; }
ParamSpec release_ms_spec() { return {"release_ms", 1.0, 5000.0, "ms"}; }

}  // namespace neuralfx::dsp
