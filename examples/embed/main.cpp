// A product embedding the kernel: load a model file, set a knob, prepare, process blocks on the
// audio thread. Built by docs/EMBEDDING.md's CMake lines, and run by ctest (example_embed).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "neuralfx/model_io.hpp"

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "presets/crunch_amp.nfx";
    std::unique_ptr<neuralfx::Model> model;
    try {
        model = neuralfx::load_model_from_file(path);  // off the audio thread
    } catch (const neuralfx::ModelFileError& e) {
        std::fprintf(stderr, "%s\n", e.what());  // names the file and the field at fault
        return 1;
    }
    // The kernel runs at the model's rate and does not resample: a host at another rate
    // converts around it (docs/EMBEDDING.md).
    std::printf("model rate %g Hz, latency %d samples\n", model->sample_rate(), model->latency_samples());

    // Knobs set before prepare() (or before a reset()) are where the model starts; set later,
    // they glide there over the kernel's 10 ms smoothing.
    const int gain = model->knob_index("gain");  // -1 if the model has no such knob
    if (gain >= 0) model->set_knob(gain, 9.0f);

    const int channels = 2, max_block = 512;
    model->prepare(channels, max_block);  // off the audio thread: allocates, settles the state

    // Audio thread: in place, any block length (longer ones run in max_block pieces).
    const int total = 4800;
    std::vector<float> input(total);
    for (int i = 0; i < total; ++i) input[i] = 0.5f * std::sin(2.0f * 3.14159265f * 220.0f * i / 48000.0f);
    std::vector<float> left = input, right = input;
    for (int start = 0; start < total;) {
        const int n = std::min(100 + start % 333, total - start);
        float* block[2] = {left.data() + start, right.data() + start};
        if (!model->process(block, channels, n)) return 1;  // false only before prepare()
        start += n;
    }
    std::printf("last samples %.9g %.9g\n", left[total - 1], right[total - 1]);

    // A new signal starts from rest: reset() (no allocation; it settles again, 8192 samples of
    // silence a channel, if a knob moved since prepare()). The output does not depend on how the
    // audio was cut into blocks: one whole call gives the same samples.
    model->reset();
    std::vector<float> whole_left = input, whole_right = input;
    float* whole[2] = {whole_left.data(), whole_right.data()};
    model->process(whole, channels, total);
    if (whole_left != left || whole_right != right) {
        std::fprintf(stderr, "blocks and one whole call differ\n");
        return 1;
    }
    return 0;
}
