#include "neuralfx/dsp/noise_gate.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names (and ranges) are those of neuralfx.dsp.noise_gate.NoiseGate.
std::unique_ptr<Block> make_noise_gate(const BlockReader& r) {
    const double rate = dsp::read_sample_rate(r);
    const auto p = dsp::read_params(r, r.config(), ".config", "",
                                    {{"threshold_db", -100.0, 0.0, "dB"},
                                     {"ratio", 1.0, 50.0, ""},
                                     {"range_db", -100.0, 0.0, "dB"},
                                     dsp::attack_ms_spec(),
                                     dsp::release_ms_spec()});
    return std::make_unique<dsp::NoiseGate>(dsp::read_level_detector(r, "rms", rate), dsp::read_smoothing(r), p[3], p[4],
                                            rate, p[0], p[1], p[2]);
}

}  // namespace neuralfx
