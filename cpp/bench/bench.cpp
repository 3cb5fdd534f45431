// neuralfx-bench MODEL [MODEL...] [--block-sizes 1,16,64,256,1024] [--channels 1,2]
//                [--seconds S] [--warmup W] [--repeats R] [--json PATH]
// Single-thread throughput of the kernel. MODEL is a model file or an architecture with random
// weights ("lstm:H[:LAYERS]", "gru:H[:LAYERS]", "wavenet:standard", "tcn:C[:KERNEL]", see
// kArchitectures), built through the same loader and block factories as a
// file. For every model, channel count and block size: W untimed warm-up runs, then R timed
// runs over S seconds of noise; it prints the median rate, the spread (max - min) / median,
// the rate by thread CPU time (less disturbed on a shared machine, where wall time also counts
// other jobs' time slices), and the time per block of silence right after loud input against
// the time per block of that input: a ratio far above 1 means recurrent state decaying into
// denormals is not being flushed, on CPUs that slow down on denormals (a Zen 4 core does not:
// there the ratio stays near 1 either way, and cpp/tests/test_realtime.cpp checks the flush).
// It also measures the CPU's fp32 multiply-add rate (fma_peak.hpp) and prints each model's
// multiply-adds per sample and the share of that rate the model ran at.

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "neuralfx/build_info.hpp"
#include "neuralfx/model_io.hpp"
#include "neuralfx/random_model.hpp"

namespace {

using neuralfx_bench::thread_cpu_seconds;

struct Options {
    std::vector<std::string> models;
    std::vector<int> block_sizes = {1, 16, 64, 256, 1024};
    std::vector<int> channels = {1};
    double seconds = 2.0;  // audio per timed run
    int warmup = 1;
    int repeats = 5;
    std::string json_path;
    std::string command;
};

// The whole of `text` as a finite number, else false (atof and atoi took "inf" or "12x", and
// casting an infinite or huge duration to a sample count is undefined).
bool parse_number(const std::string& text, double& out) {
    char* end = nullptr;
    errno = 0;
    out = std::strtod(text.c_str(), &end);
    return !text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(out);
}

// Whole numbers in [lo, hi], comma-separated; false on anything else.
bool parse_int_list(const std::string& text, int lo, int hi, std::vector<int>& out) {
    out.clear();
    std::stringstream s(text);
    std::string item;
    double v = 0.0;
    while (std::getline(s, item, ',')) {
        if (!parse_number(item, v) || v != std::floor(v) || v < lo || v > hi) return false;
        out.push_back(static_cast<int>(v));
    }
    return !out.empty();
}

const char* kArchitectures =
    "lstm:H[:LAYERS], gru:H[:LAYERS] (H <= 1024, LAYERS <= 8), wavenet:standard|lite|C1,C2 (NAM layouts; C1,C2: two arrays of NAM's "
    "dilations), tcn:C[:KERNEL] (dilations 1,4,16,64,256)";

// --help: the usage on stdout, exit 0; a bad command line: the problem and the usage on stderr, exit 2.
[[noreturn]] void usage(const char* problem) {
    const bool asked = problem[0] == '\0';
    std::FILE* out = asked ? stdout : stderr;
    if (!asked) std::fprintf(out, "%s\n", problem);
    std::fprintf(out,
                 "usage: neuralfx-bench MODEL.nfx|ARCHITECTURE [...] [--block-sizes 1,16,64,256,1024] "
                 "[--channels LIST] [--seconds 2] [--warmup RUNS] [--repeats RUNS] [--json PATH]\n"
                 "  --channels: channel counts to run, e.g. 1,2 (default 1); --seconds: seconds of audio per run\n"
                 "  (at least one block of the largest size); --warmup: unmeasured runs before the measured ones\n"
                 "  (default 1); --repeats: measured runs (default 5); the median and the spread are reported.\n"
                 "ARCHITECTURE: %s\n",
                 kArchitectures);
    std::exit(asked ? 0 : 2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 0; i < argc; ++i) o.command += (i ? " " : "") + std::string(argv[i]);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        // No option's value starts with "--": `--json --seconds 1` wrote the JSON to "--seconds".
        auto value = [&]() -> std::string {
            if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)
                usage(("missing value after " + a).c_str());
            return argv[++i];
        };
        // Whole numbers from lo to hi, else usage() naming the option and the range.
        auto ints = [&](int lo, int hi) {
            std::vector<int> v;
            if (!parse_int_list(value(), lo, hi, v))
                usage((a + ": expected whole numbers from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
            return v;
        };
        auto one = [&](int lo, int hi) {
            const std::vector<int> v = ints(lo, hi);
            if (v.size() != 1) usage((a + ": expected one whole number").c_str());
            return v.front();
        };
        if (a == "--block-sizes") o.block_sizes = ints(1, neuralfx::Model::kMaxBlockSize);
        else if (a == "--channels") o.channels = ints(1, 32);
        else if (a == "--warmup") o.warmup = one(0, 1000);
        else if (a == "--repeats") o.repeats = one(1, 1000);
        else if (a == "--seconds") {
            if (!parse_number(value(), o.seconds) || o.seconds < 1e-3 || o.seconds > 3600)
                usage("--seconds: expected a number from 0.001 to 3600");
        }
        else if (a == "--json") o.json_path = value();
        else if (a == "-h" || a == "--help") usage("");
        else if (!a.empty() && a[0] == '-') usage(("unknown option " + a).c_str());
        else o.models.push_back(a);
    }
    if (o.models.empty()) usage("no model given");
    return o;
}

// The block type named by an architecture description's prefix ("lstm:", "gru:", "wavenet:",
// "tcn:"), "" for a file path.
std::string architecture_cell(const std::string& spec) {
    if (spec.rfind("lstm:", 0) == 0) return "LSTM";
    if (spec.rfind("gru:", 0) == 0) return "GRU";
    if (spec.rfind("wavenet:", 0) == 0) return "WaveNet";
    if (spec.rfind("tcn:", 0) == 0) return "TCN";
    return "";
}

// An architecture description -> a random-weight model file's text; "" when spec is not a valid one.
std::string architecture_json(const std::string& spec) {
    const std::string cell = architecture_cell(spec);
    if (cell.empty()) return "";
    const std::string args = spec.substr(spec.find(':') + 1);
    if (cell == "WaveNet") {
        const std::vector<int> nam = neuralfx::nam_dilations();
        if (args == "standard") return neuralfx::random_wavenet_model_json({16, 8}, {3, 3}, {nam, nam}, false);
        if (args == "lite")
            return neuralfx::random_wavenet_model_json({12, 6}, {3, 3}, {{1, 2, 4, 8, 16, 32, 64},
                                                                        {128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512}},
                                                       false);
        std::vector<int> c;
        if (!parse_int_list(args, 1, 256, c) || c.size() != 2) return "";
        return neuralfx::random_wavenet_model_json(c, {3, 3}, {nam, nam}, false);
    }
    // H[:LAYERS] and C[:KERNEL]: colon-separated. (The comma-separated reading this replaced
    // stopped at the colon, so lstm:32:2 ran one layer and tcn:10:5 a kernel of 13.)
    std::string numbers = args;
    std::replace(numbers.begin(), numbers.end(), ':', ',');
    std::vector<int> parts;
    if (!parse_int_list(numbers, 1, 1 << 20, parts) || parts.size() > 2) return "";
    if (cell == "TCN") {
        if (parts[0] > 256 || (parts.size() == 2 && parts[1] > 64)) return "";
        return neuralfx::random_tcn_model_json(parts[0], parts.size() == 2 ? parts[1] : 13, {1, 4, 16, 64, 256}, false);
    }
    // Checked before the text is made: lstm:100000 spent minutes and gigabytes writing a file the
    // reader then refused.
    if (parts[0] > neuralfx::kMaxHiddenSize || (parts.size() == 2 && parts[1] > neuralfx::kMaxRecurrentLayers)) return "";
    return neuralfx::random_recurrent_model_json(cell, parts[0], parts.size() == 2 ? parts[1] : 1, false);
}

std::unique_ptr<neuralfx::Model> load(const std::string& spec) {
    const std::string json = architecture_json(spec);
    if (!json.empty()) return neuralfx::load_model_from_string(json);
    if (!architecture_cell(spec).empty())
        throw std::runtime_error("bad architecture '" + spec + "': expected one of " + kArchitectures);
    return neuralfx::load_model_from_file(spec);
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown";
}

// The core clock while this thread runs, in GHz, from a chain of dependent 64-bit integer
// multiplies (3 cycles each on every x86-64 core since Nehalem and Zen): the best of a few 10 ms
// runs of thread CPU time (fma_peak.hpp's thread_cpu_seconds). Not additions: Intel's Golden
// Cove-class cores run chains of add-immediate at rename, several per cycle (an add chain read
// 10.6 GHz on an Emerald Rapids Xeon). A virtual machine's nominal frequency says little about
// the clock it gets; cycles per sample (clock / rate) is the number to compare across machines. 0 where the chain cannot be written (not x86-64 GCC/Clang).
double measure_core_ghz() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    constexpr double kImulLatency = 3.0;
    double best = 0.0;
    for (int run = 0; run < 5; ++run) {
        const long iterations = 1250000;  // x 8 multiplies x 3 cycles: ~10 ms at 3 GHz
        long x = 3;
        const double t0 = thread_cpu_seconds();
        asm volatile(
            "mov %1, %%rcx\n"
            "1:\n"
            "imul %0, %0\n imul %0, %0\n imul %0, %0\n imul %0, %0\n"
            "imul %0, %0\n imul %0, %0\n imul %0, %0\n imul %0, %0\n"
            "dec %%rcx\n jnz 1b\n"
            : "+r"(x)
            : "r"(iterations)
            : "rcx", "cc");
        const double s = thread_cpu_seconds() - t0;
        best = std::max(best, kImulLatency * 8.0 * static_cast<double>(iterations) / s / 1e9);
    }
    return best;
#else
    return 0.0;
#endif
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Length of the valid UTF-8 sequence at s[i], 0 if there is none.
size_t utf8_length(const std::string& s, size_t i) {
    const auto byte = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
    const unsigned c = byte(i);
    const size_t n = c < 0x80                       ? 1
                     : (c >> 5) == 0x6 && c >= 0xc2 ? 2
                     : (c >> 4) == 0xe              ? 3
                     : (c >> 3) == 0x1e && c <= 0xf4 ? 4
                                                     : 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if (n == 3 && ((c == 0xe0 && byte(i + 1) < 0xa0) || (c == 0xed && byte(i + 1) >= 0xa0))) return 0;
    if (n == 4 && ((c == 0xf0 && byte(i + 1) < 0x90) || (c == 0xf4 && byte(i + 1) >= 0x90))) return 0;
    return n;
}

// A JSON string's contents: quotes and backslashes escaped, control characters as \u00XX, bytes
// that are not UTF-8 (a file name in Latin-1) as U+FFFD. A tab was dropped and a raw 0xE9 byte
// written, which JSON readers refuse.
std::string json_escape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t n = utf8_length(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
        } else if (c < 0x20) {
            char code[8];
            std::snprintf(code, sizeof code, "\\u%04x", c);
            out += code;
            ++i;
        } else {
            if (c == '"' || c == '\\') out += '\\';
            out.append(s, i, n);
            i += n;
        }
    }
    return out;
}

struct Timing {
    double wall = 0.0;
    double cpu = 0.0;
};

// Processes buffers (one per channel, all the same length) in blocks of `block`, in place.
Timing run(neuralfx::Model& model, std::vector<std::vector<float>>& buffers, int block) {
    const size_t total = buffers.front().size();
    std::vector<float*> ptrs(buffers.size());
    const double c0 = thread_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t start = 0; start < total; start += static_cast<size_t>(block)) {
        const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(block), total - start));
        for (size_t ch = 0; ch < buffers.size(); ++ch) ptrs[ch] = buffers[ch].data() + start;
        model.process(ptrs.data(), static_cast<int>(ptrs.size()), n);
    }
    Timing t;
    t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.cpu = thread_cpu_seconds() - c0;
    return t;
}

struct Row {
    std::string model;
    int channels = 0;
    int block = 0;
    double rate = 0.0;  // channel-samples per second, median over repeats (wall time)
    double rate_min = 0.0;
    double rate_max = 0.0;
    double cpu_rate = 0.0;  // the same by thread CPU time
    double rtf = 0.0;       // seconds of audio per second of wall time
    double loud_ns_per_block = 0.0;
    double silence_ns_per_block = 0.0;
    long long multiply_adds_per_sample = 0;  // per sample of one channel
};

// Whether `path` can be written as a file, touching nothing there: a new file is created with
// O_EXCL and removed again (so only one this call made is removed); an existing path must be a
// regular file the user may write (opening one to test it could block on a FIFO or truncate).
bool writable(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {
        ::close(fd);
        ::unlink(path.c_str());
        return true;
    }
    struct stat st;
    return errno == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), W_OK) == 0;
}

}  // namespace

int bench(const Options& opt) {
    // Every model loads before the CPU is measured (seconds), so a bad one is refused at once.
    std::vector<std::unique_ptr<neuralfx::Model>> models;
    for (const std::string& spec : opt.models) {
        try {
            models.push_back(load(spec));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        }
    }
    // A JSON path it cannot write is refused before minutes of measuring, not after them.
    if (!opt.json_path.empty() && !writable(opt.json_path)) {
        std::fprintf(stderr, "error: cannot write %s\n", opt.json_path.c_str());
        return 1;
    }
    const std::string cpu = cpu_model();
    const double ghz = measure_core_ghz();
    char clock[64];
    if (ghz > 0.0) std::snprintf(clock, sizeof clock, "%.2f GHz", ghz);
    else std::snprintf(clock, sizeof clock, "not measured on this CPU");
    const neuralfx_bench::FmaPeak peak = neuralfx_bench::measure_fma_peak();
    char per_cycle[48] = "";
    if (ghz > 0.0) std::snprintf(per_cycle, sizeof per_cycle, ", %.1f a cycle", peak.multiply_adds_per_s / (ghz * 1e9));
    std::printf("neuralfx-bench | cpu: %s | core clock (measured): %s | %s\n", cpu.c_str(), clock,
                neuralfx::build_info().c_str());
    std::printf("fp32 multiply-adds (measured, %s, 12 independent chains): %.1f G/s%s. madds/smp: the model's "
                "multiply-adds per sample; of peak: the share of that rate it ran at (cpu time)\n",
                peak.isa.c_str(), peak.multiply_adds_per_s / 1e9, per_cycle);
    std::printf("%-24s %3s %6s %13s %8s %13s %9s %12s %13s %10s %9s %7s\n", "model", "ch", "block", "samples/s", "spread",
                "cpu samples/s", "RTF", "silence/loud", "cpu per ch", "cycles/smp", "madds/smp", "of peak");
    std::vector<Row> rows;
    for (size_t m = 0; m < models.size(); ++m) {
        const std::string& spec = opt.models[m];
        neuralfx::Model* const model = models[m].get();
        const double rate = model->sample_rate();
        // At least one block of the largest size: a block longer than the audio ran the audio's
        // length alone under that block's label.
        const int largest = *std::max_element(opt.block_sizes.begin(), opt.block_sizes.end());
        const size_t total = std::max<size_t>(static_cast<size_t>(largest), static_cast<size_t>(opt.seconds * rate));
        std::vector<float> noise(total);
        std::mt19937 rng(1234);
        std::normal_distribution<float> dist(0.0f, 0.3f);
        for (float& x : noise) x = dist(rng);
        // The file name, or the path as given where two models share a file name.
        const auto file_name = [](const std::string& path) { return path.substr(path.find_last_of("/\\") + 1); };
        const std::string name = std::count_if(opt.models.begin(), opt.models.end(), [&](const std::string& other) {
                                     return file_name(other) == file_name(spec);
                                 }) > 1 ? spec : file_name(spec);
        for (int channels : opt.channels) {
            for (int block : opt.block_sizes) {
                model->prepare(channels, block);
                std::vector<std::vector<float>> buffers;
                std::vector<double> rates, cpu_rates;
                for (int r = 0; r < opt.warmup + opt.repeats; ++r) {
                    buffers.assign(static_cast<size_t>(channels), noise);
                    const Timing t = run(*model, buffers, block);
                    if (r < opt.warmup) continue;
                    rates.push_back(static_cast<double>(total * static_cast<size_t>(channels)) / t.wall);
                    cpu_rates.push_back(static_cast<double>(total * static_cast<size_t>(channels)) / t.cpu);
                }
                // Denormal check: loud input (noise at 3x the level, gates saturating) drives the
                // state far from zero; the silence after it lets the state decay towards zero.
                model->reset();
                std::vector<std::vector<float>> loud(static_cast<size_t>(channels), noise);
                for (auto& b : loud)
                    for (float& x : b) x *= 3.0f;
                const Timing loud_t = run(*model, loud, block);
                std::vector<std::vector<float>> silence(static_cast<size_t>(channels), std::vector<float>(total, 0.0f));
                const Timing silence_t = run(*model, silence, block);
                const double blocks = std::ceil(static_cast<double>(total) / block);

                Row row;
                row.model = name;
                row.channels = channels;
                row.block = block;
                row.rate = median(rates);
                row.rate_min = *std::min_element(rates.begin(), rates.end());
                row.rate_max = *std::max_element(rates.begin(), rates.end());
                row.cpu_rate = median(cpu_rates);
                row.rtf = row.rate / channels / rate;
                row.loud_ns_per_block = 1e9 * loud_t.cpu / blocks;
                row.silence_ns_per_block = 1e9 * silence_t.cpu / blocks;
                row.multiply_adds_per_sample = model->multiply_adds_per_sample();
                rows.push_back(row);
                // cpu per ch: the cpu rate per channel, to compare stereo (two channels, run in one
                // loop where a block pairs them, Block::process_pair) with mono.
                // cycles/smp: core cycles per channel-sample by CPU time (cpu samples/s counts every channel).
                char cycles[32];
                if (ghz > 0.0) std::snprintf(cycles, sizeof cycles, "%.0f", ghz * 1e9 / row.cpu_rate);
                else std::snprintf(cycles, sizeof cycles, "-");
                // Three significant digits below 10: a slow model's 0.003 read 0.0.
                char rtf[32];
                std::snprintf(rtf, sizeof rtf, row.rtf >= 10.0 ? "%.1f" : "%.3g", row.rtf);
                std::printf("%-24s %3d %6d %13.0f %7.1f%% %13.0f %9s %12.2f %13.0f %10s %9lld %6.0f%%\n", name.c_str(),
                            channels, block, row.rate, 100.0 * (row.rate_max - row.rate_min) / row.rate, row.cpu_rate,
                            rtf, row.silence_ns_per_block / row.loud_ns_per_block, row.cpu_rate / channels, cycles,
                            row.multiply_adds_per_sample,
                            100.0 * row.cpu_rate * static_cast<double>(row.multiply_adds_per_sample) / peak.multiply_adds_per_s);
                std::fflush(stdout);
            }
        }
    }

    // Both again after the runs: a reading can only be low (time taken from the core by anything
    // else lowers it), and one start of the page's runs read 3.41 GHz where every other bench of
    // that run read 3.66. The JSON keeps the higher of each.
    const double ghz_end = measure_core_ghz();
    const double core_ghz = std::max(ghz, ghz_end);
    if (ghz > 0.0 && ghz_end > 1.02 * ghz)
        std::printf("core clock measured again after the runs: %.2f GHz, above the start's %.2f GHz: cycles/smp above "
                    "are %.0f%% low; the JSON has the higher clock\n",
                    ghz_end, ghz, 100.0 * (1.0 - ghz / ghz_end));
    const neuralfx_bench::FmaPeak peak_end = neuralfx_bench::measure_fma_peak();
    const double peak_rate = std::max(peak.multiply_adds_per_s, peak_end.multiply_adds_per_s);
    if (peak_end.multiply_adds_per_s > 1.02 * peak.multiply_adds_per_s)
        std::printf("multiply-add peak measured again after the runs: %.1f G/s, above the start's %.1f G/s: of peak "
                    "above reads high; the JSON has the higher peak\n",
                    peak_end.multiply_adds_per_s / 1e9, peak.multiply_adds_per_s / 1e9);
    // The header's per-cycle figure divided the start's two readings, either of which may be low
    // (under load it read 23.8 a cycle on a Zen 4 core, whose peak is 16): the higher ones again.
    if (ghz > 0.0 && (ghz_end > 1.02 * ghz || peak_end.multiply_adds_per_s > 1.02 * peak.multiply_adds_per_s))
        std::printf("with the higher readings: %.1f G/s fp32 multiply-adds at %.2f GHz, %.1f a cycle\n",
                    peak_rate / 1e9, core_ghz, peak_rate / (core_ghz * 1e9));
    if (!opt.json_path.empty()) {
        std::ofstream f(opt.json_path);
        f.precision(10);
        f << "{\n  \"command\": \"" << json_escape(opt.command) << "\",\n";
        f << "  \"cpu\": \"" << json_escape(cpu) << "\",\n";
        f << "  \"core_ghz\": " << core_ghz << ", \"core_ghz_start\": " << ghz << ", \"core_ghz_end\": " << ghz_end
          << ",\n";
        f << "  \"fma_peak\": {\"multiply_adds_per_s\": " << peak_rate << ", \"isa\": \"" << peak.isa
          << "\", \"measured\": \"before and after the runs, the higher\"},\n";
        f << "  \"compiler\": \"" << json_escape(neuralfx::compiler()) << "\",\n";
        f << "  \"flags\": \"" << json_escape(NEURALFX_CXX_FLAGS) << "\",\n";
        f << "  \"simd\": \"" << neuralfx::simd_path() << "\",\n";
        f << "  \"hot_loops\": \"" << neuralfx::dispatched_simd_path() << "\",\n";
        f << "  \"runtime_dispatch\": " << (NEURALFX_RUNTIME_DISPATCH ? "true" : "false") << ",\n";
        f << "  \"seconds\": " << opt.seconds << ", \"warmup\": " << opt.warmup << ", \"repeats\": " << opt.repeats << ",\n";
        f << "  \"results\": [";
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row& r = rows[i];
            f << (i ? "," : "") << "\n    {\"model\": \"" << json_escape(r.model) << "\", \"channels\": " << r.channels
              << ", \"block\": " << r.block << ", \"samples_per_s\": " << r.rate << ", \"samples_per_s_min\": " << r.rate_min
              << ", \"samples_per_s_max\": " << r.rate_max << ", \"cpu_samples_per_s\": " << r.cpu_rate
              << ", \"rtf\": " << r.rtf << ", \"loud_ns_per_block\": " << r.loud_ns_per_block
              << ", \"silence_ns_per_block\": " << r.silence_ns_per_block
              << ", \"multiply_adds_per_sample\": " << r.multiply_adds_per_sample << "}";
        }
        f << "\n  ]\n}\n";
        if (!f) {
            std::fprintf(stderr, "error: cannot write %s\n", opt.json_path.c_str());
            return 1;
        }
    }
    return 0;
}

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    try {
        return bench(opt);
    } catch (const std::bad_alloc&) {
        // `lstm:8 --seconds 3600 --channels 32` needs about 22 GB of buffers: it ended in
        // "terminate called after throwing an instance of 'std::bad_alloc'".
        std::fprintf(stderr, "error: out of memory: the buffers hold --seconds of audio per channel (and the model's "
                             "state); ask for fewer --seconds or --channels, or a smaller model\n");
        return 1;
    }
}
