#pragma once
// Streaming, band-limited sample-rate conversion between two integer rates: the plugin runs a
// model at its own rate through it (host_rate_model.hpp), and neuralfx._core.Resampler
// does the same for Python's resample=True.
//
// Output sample k of a StreamResampler is the input signal evaluated at input position
// k * in_rate / out_rate - delay, through a Kaiser-windowed sinc (an exact polyphase table:
// positions only take out_rate / gcd phases). Everything is integer index arithmetic, so an
// output depends only on the input samples, never on how the stream was cut into blocks.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace neuralfx {

// Filter design, in samples of the lower of the two rates: half-width 32 zero crossings and a
// cutoff at 0.91 of its Nyquist frequency with a Kaiser beta of 7.5 give a passband flat to
// within 0.1 dB up to ~18 kHz at 44.1 kHz and >= 70 dB rejection of what would alias
// (measured in tests/test_plugin.py and cpp/plugin/tests).
constexpr int kResamplerZeroCrossings = 32;
constexpr double kResamplerCutoff = 0.91;
constexpr double kResamplerKaiserBeta = 7.5;
// More phases than this means an exotic rate pair (e.g. 44100 <-> 47999 Hz): the table would
// cost megabytes, so such pairs are refused with an error instead.
constexpr long kResamplerMaxPhases = 4096;
// The taps grow with the down-conversion ratio (32 zero crossings of the lower rate): this
// allows 32:1 (768 kHz -> 24 kHz); 100 kHz -> 1 Hz would take seconds and 25 MB per phase.
constexpr long long kResamplerMaxTaps = 2048;

class UnsupportedRateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline long long floor_div(long long a, long long b) {
    long long q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

inline long long ceil_div(long long a, long long b) { return -floor_div(-a, b); }

inline double bessel_i0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 64; ++k) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if (term < 1e-17 * sum) break;
    }
    return sum;
}

class StreamResampler {
public:
    static long phases_for(long in_rate, long out_rate) { return out_rate / std::gcd(in_rate, out_rate); }

    // Half-width of the filter in input samples.
    static int half_taps_for(long in_rate, long out_rate) {
        return static_cast<int>(ceil_div(static_cast<long long>(kResamplerZeroCrossings) * in_rate,
                                         std::min(in_rate, out_rate)));
    }

    // What a conversion from in_rate to out_rate would need beyond the filter's limits ("" when
    // within them): configure() refuses it, and a caller can ask first (the plugin's latency).
    static std::string limit_exceeded(long in_rate, long out_rate) {
        const long phases = phases_for(in_rate, out_rate);
        if (phases > kResamplerMaxPhases)
            return std::to_string(phases) + " filter phases, limit " + std::to_string(kResamplerMaxPhases);
        const long long taps = 2LL * half_taps_for(in_rate, out_rate);
        if (taps > kResamplerMaxTaps)
            return std::to_string(taps) + " filter taps, limit " + std::to_string(kResamplerMaxTaps);
        return "";
    }

    // Why configure() would refuse converting between in_rate and out_rate beyond the filter's
    // limits, as its message ("" when within them).
    static std::string refusal(long in_rate, long out_rate) {
        const std::string needs = limit_exceeded(in_rate, out_rate);
        if (needs.empty()) return "";
        return "cannot convert between " + std::to_string(in_rate) + " Hz and " + std::to_string(out_rate) +
               " Hz (needs " + needs + "): use two rates closer together or in a simpler ratio, such as 44100, " +
               "48000, 88200 or 96000 Hz";
    }

    // Off the audio thread. delay_num: the delay in units of 1/out_rate input samples; it must be
    // a multiple of gcd(in_rate, out_rate) so that every output lands on a table phase.
    void configure(long in_rate, long out_rate, long long delay_num, int max_input_chunk) {
        if (in_rate <= 0 || out_rate <= 0) throw UnsupportedRateError("sample rates must be positive");
        const long g = std::gcd(in_rate, out_rate);
        if (delay_num % g != 0) throw std::logic_error("StreamResampler: delay not on a phase");
        in_rate_ = in_rate;
        out_rate_ = out_rate;
        g_ = g;
        phases_ = out_rate / g;
        const std::string refused = refusal(in_rate, out_rate);
        if (!refused.empty()) throw UnsupportedRateError(refused);
        delay_num_ = delay_num;
        half_ = half_taps_for(in_rate, out_rate);
        taps_ = 2 * half_;
        max_chunk_ = std::max(max_input_chunk, 1);

        // Cutoff as a fraction of the input rate (cycles per input sample, times two).
        const double band = kResamplerCutoff * static_cast<double>(std::min(in_rate, out_rate)) / static_cast<double>(in_rate);
        const double i0_beta = bessel_i0(kResamplerKaiserBeta);
        table_.assign(static_cast<size_t>(phases_) * static_cast<size_t>(taps_), 0.0f);
        std::vector<double> row(static_cast<size_t>(taps_));
        for (long p = 0; p < phases_; ++p) {
            const double frac = static_cast<double>(p * g_) / static_cast<double>(out_rate_);
            double sum = 0.0;
            for (int j = 0; j < taps_; ++j) {
                const double t = frac + (half_ - 1) - j;  // distance from the output position
                const double u = t / half_;
                double w = 0.0;
                if (std::fabs(u) < 1.0) w = bessel_i0(kResamplerKaiserBeta * std::sqrt(1.0 - u * u)) / i0_beta;
                const double x = band * t;
                const double sinc = std::fabs(x) < 1e-12 ? 1.0 : std::sin(M_PI * x) / (M_PI * x);
                row[static_cast<size_t>(j)] = band * sinc * w;
                sum += row[static_cast<size_t>(j)];
            }
            // Unit DC gain at every phase: otherwise the phase pattern leaves a faint tone.
            for (int j = 0; j < taps_; ++j)
                table_[static_cast<size_t>(p) * static_cast<size_t>(taps_) + static_cast<size_t>(j)] =
                    static_cast<float>(row[static_cast<size_t>(j)] / sum);
        }
        const long long first_needed = first_input_index(0) - (half_ - 1);
        initial_zeros_ = static_cast<int>(std::max<long long>(0, -first_needed));
        history_.assign(static_cast<size_t>(initial_zeros_ + taps_ + max_chunk_ + 8), 0.0f);
        reset();
    }

    void reset() {
        std::fill(history_.begin(), history_.end(), 0.0f);
        // Input before the stream started is silence.
        history_start_ = -initial_zeros_;
        history_count_ = initial_zeros_;
        next_output_ = 0;
    }

    int half_taps() const { return half_; }

    // Most outputs one call can return for n inputs.
    int max_output_for(int n) const {
        return static_cast<int>(ceil_div(static_cast<long long>(n) * out_rate_, in_rate_)) + 2 * taps_ + 2;
    }

    // Real-time safe. Appends n input samples and writes every output that is now computable
    // (at most max_out) to out; returns how many.
    int process(const float* in, int n, float* out, int max_out) {
        int produced = 0;
        while (n > 0) {
            const int take = std::min(n, max_chunk_);
            std::memcpy(history_.data() + history_count_, in, sizeof(float) * static_cast<size_t>(take));
            history_count_ += take;
            in += take;
            n -= take;
            produced += drain(out + produced, max_out - produced);
            compact();
        }
        return produced;
    }

private:
    long long first_input_index(long long k) const {
        return floor_div(k * in_rate_ - delay_num_, out_rate_);
    }

    int drain(float* out, int max_out) {
        int produced = 0;
        const long long last = history_start_ + history_count_ - 1;
        while (produced < max_out) {
            const long long pos = next_output_ * in_rate_ - delay_num_;
            const long long n0 = floor_div(pos, out_rate_);
            if (n0 + half_ > last) break;
            const long phase = static_cast<long>((pos - n0 * out_rate_) / g_);
            const float* c = table_.data() + static_cast<size_t>(phase) * static_cast<size_t>(taps_);
            const float* x = history_.data() + (n0 - (half_ - 1) - history_start_);
            float acc = 0.0f;
            for (int j = 0; j < taps_; ++j) acc += c[j] * x[j];
            out[produced++] = acc;
            ++next_output_;
        }
        return produced;
    }

    // Drops history no future output needs; what remains is under one filter length.
    void compact() {
        const long long keep_from =
            std::min(first_input_index(next_output_) - (half_ - 1), history_start_ + history_count_);
        const long long drop = keep_from - history_start_;
        if (drop <= 0) return;
        const int remaining = history_count_ - static_cast<int>(drop);
        std::memmove(history_.data(), history_.data() + drop, sizeof(float) * static_cast<size_t>(remaining));
        history_start_ = keep_from;
        history_count_ = remaining;
    }

    long in_rate_ = 1, out_rate_ = 1, g_ = 1, phases_ = 1;
    long long delay_num_ = 0;
    int half_ = 1, taps_ = 2, max_chunk_ = 1, initial_zeros_ = 0;
    std::vector<float> table_;
    std::vector<float> history_;
    long long history_start_ = 0;
    int history_count_ = 0;
    long long next_output_ = 0;
};

}  // namespace neuralfx
