#include "neuralfx/dsp/gain.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names are those of neuralfx.dsp.gain.Gain.
std::unique_ptr<Block> make_gain(const BlockReader& r) {
    const auto p = dsp::read_params(r, r.config(), ".config", "", {{"gain_db", -60.0, 24.0, "dB"}});
    return std::make_unique<dsp::Gain>(p[0]);
}

}  // namespace neuralfx
