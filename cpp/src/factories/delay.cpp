#include "neuralfx/dsp/delay.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names are those of neuralfx.dsp.delay.Delay (same ranges and limits).
std::unique_ptr<Block> make_delay(const BlockReader& r) {
    const double rate = dsp::read_sample_rate(r);
    constexpr float kMinDelayMs = 1.0f, kMaxDelayLimitMs = 10000.0f;
    // Validated as a float, used as the double the file holds (Python uses it unrounded).
    double max_delay_ms = r.get_float("max_delay_ms", kMinDelayMs, kMaxDelayLimitMs, 2000.0f);
    if (r.config().contains("max_delay_ms")) max_delay_ms = r.config().at("max_delay_ms").get<double>();
    r.claim_delay_line(dsp::Delay::line_length(max_delay_ms, rate), ".config.max_delay_ms");
    const auto p = dsp::read_params(r, r.config(), ".config", "",
                                    {{"delay_ms", kMinDelayMs, max_delay_ms, "ms"},
                                     {"feedback", 0.0, 0.99, ""},
                                     {"mix", 0.0, 1.0, ""}});
    return std::make_unique<dsp::Delay>(rate, max_delay_ms, p[0], p[1], p[2]);
}

}  // namespace neuralfx
