#include "neuralfx/dsp/eq.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names are those of neuralfx.dsp.eq.ParametricEQ (weights bands.<i>.*).
std::unique_ptr<Block> make_parametric_eq(const BlockReader& r) {
    const double rate = dsp::read_sample_rate(r);
    auto bands = r.config().find("bands");
    if (bands == r.config().end() || !bands->is_array() || bands->empty() || bands->size() > 32)
        r.fail(".config.bands", "expected a list of 1 to 32 band objects");
    std::vector<dsp::BiquadFilter> filters;
    for (size_t i = 0; i < bands->size(); ++i) {
        const std::string n = std::to_string(i);
        filters.push_back(dsp::read_band(r, (*bands)[i], ".config.bands[" + n + "]", "bands." + n + ".", rate));
    }
    return std::make_unique<dsp::ParametricEQ>(std::move(filters));
}

}  // namespace neuralfx
