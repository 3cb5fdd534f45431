#include "neuralfx/dsp/biquad.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names are those of neuralfx.dsp.biquad.Biquad.
std::unique_ptr<Block> make_biquad(const BlockReader& r) {
    const double rate = dsp::read_sample_rate(r);
    return std::make_unique<dsp::Biquad>(dsp::read_biquad(r, r.config(), ".config", "", rate));
}

}  // namespace neuralfx
