#include "neuralfx/dsp/waveshaper.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names are those of neuralfx.dsp.waveshaper.Waveshaper (tone filters'
// weights under pre.* and post.*).
std::unique_ptr<Block> make_waveshaper(const BlockReader& r) {
    const double rate = dsp::read_sample_rate(r);
    const std::string name = r.get_string("curve", {"tanh", "arctan", "softclip", "hardclip"}, "tanh");  // Python's default
    const dsp::Curve curve = name == "tanh"     ? dsp::Curve::tanh
                             : name == "arctan" ? dsp::Curve::arctan
                             : name == "softclip" ? dsp::Curve::softclip
                                                  : dsp::Curve::hardclip;
    const auto p = dsp::read_params(r, r.config(), ".config", "",
                                    {{"drive_db", -24.0, 48.0, "dB"}, {"bias", -1.0, 1.0, ""}});
    std::optional<dsp::BiquadFilter> tone[2];
    const char* keys[2] = {"pre", "post"};
    for (int t = 0; t < 2; ++t) {
        auto it = r.config().find(keys[t]);
        if (it != r.config().end() && !it->is_null())
            tone[t] = dsp::read_band(r, *it, std::string(".config.") + keys[t], std::string(keys[t]) + ".", rate);
    }
    return std::make_unique<dsp::Waveshaper>(curve, p[0], p[1], tone[0], tone[1]);
}

}  // namespace neuralfx
