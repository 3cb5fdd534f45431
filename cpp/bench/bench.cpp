// neuralfx-bench MODEL [MODEL...] [--block-sizes 1,16,64,256,1024] [--seconds S] [--repeats R]
// Single-thread throughput of the kernel on model files: samples per second and real-time
// factor (seconds of audio per second of wall time) at the model's own sample rate.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "neuralfx/build_info.hpp"
#include "neuralfx/model_io.hpp"

namespace {

struct Options {
    std::vector<std::string> models;
    std::vector<int> block_sizes = {1, 16, 64, 256, 1024};
    double seconds = 2.0;  // audio per timed repeat
    int repeats = 5;
};

std::vector<int> parse_int_list(const std::string& text) {
    std::vector<int> out;
    std::stringstream s(text);
    std::string item;
    while (std::getline(s, item, ',')) out.push_back(std::atoi(item.c_str()));
    return out;
}

[[noreturn]] void usage(const char* problem) {
    std::fprintf(stderr,
                 "%s\nusage: neuralfx-bench MODEL.nfx [MODEL.nfx ...] [--block-sizes 1,16,64,256,1024] "
                 "[--seconds 2] [--repeats 5]\n",
                 problem);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value after " + a).c_str());
            return argv[++i];
        };
        if (a == "--block-sizes") o.block_sizes = parse_int_list(value());
        else if (a == "--seconds") o.seconds = std::atof(value().c_str());
        else if (a == "--repeats") o.repeats = std::atoi(value().c_str());
        else if (a == "-h" || a == "--help") usage("");
        else if (!a.empty() && a[0] == '-') usage(("unknown option " + a).c_str());
        else o.models.push_back(a);
    }
    if (o.models.empty()) usage("no model given");
    for (int b : o.block_sizes)
        if (b < 1) usage("block sizes must be >= 1");
    if (o.seconds <= 0 || o.repeats < 1) usage("--seconds must be > 0 and --repeats >= 1");
    return o;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    std::printf("neuralfx-bench | %s\n", neuralfx::build_info().c_str());
    std::printf("%-28s %7s %14s %10s %9s\n", "model", "block", "samples/s", "RTF", "spread");
    for (const std::string& path : opt.models) {
        std::unique_ptr<neuralfx::Model> model;
        try {
            model = neuralfx::load_model_from_file(path);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        }
        const double rate = model->sample_rate();
        const size_t total = static_cast<size_t>(opt.seconds * rate);
        std::vector<float> input(total);
        std::mt19937 rng(1234);
        std::normal_distribution<float> noise(0.0f, 0.3f);
        for (float& x : input) x = noise(rng);
        std::vector<float> buffer(total);
        const std::string name = path.substr(path.find_last_of("/\\") + 1);
        for (int block : opt.block_sizes) {
            model->prepare(1, block);
            std::vector<double> rates;
            for (int r = 0; r < opt.repeats + 1; ++r) {  // the first run warms caches and is dropped
                buffer = input;
                float* channel = buffer.data();
                const auto t0 = std::chrono::steady_clock::now();
                for (size_t start = 0; start < total; start += static_cast<size_t>(block)) {
                    const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(block), total - start));
                    float* p = channel + start;
                    model->process(&p, 1, n);
                }
                const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (r > 0) rates.push_back(static_cast<double>(total) / dt);
            }
            const double med = median(rates);
            const auto [lo, hi] = std::minmax_element(rates.begin(), rates.end());
            std::printf("%-28s %7d %14.0f %10.1f %8.1f%%\n", name.c_str(), block, med, med / rate,
                        100.0 * (*hi - *lo) / med);
        }
    }
    return 0;
}
