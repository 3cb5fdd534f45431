#include "neuralfx/dsp/compressor.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names (and ranges) are those of neuralfx.dsp.compressor.Compressor.
std::unique_ptr<Block> make_compressor(const BlockReader& r) {
    const double rate = dsp::read_sample_rate(r);
    const auto p = dsp::read_params(r, r.config(), ".config", "",
                                    {{"threshold_db", -80.0, 0.0, "dB"},
                                     {"ratio", 1.0, 20.0, ""},
                                     {"knee_db", 0.0, 24.0, "dB"},
                                     dsp::attack_ms_spec(),
                                     dsp::release_ms_spec(),
                                     {"makeup_db", -24.0, 24.0, "dB"}});
    return std::make_unique<dsp::Compressor>(dsp::read_level_detector(r, "peak", rate), dsp::read_smoothing(r), p[3],
                                             p[4], rate, p[0], p[1], p[2], p[5]);
}

}  // namespace neuralfx
