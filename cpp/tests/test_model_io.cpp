// Model files: a valid file loads; every kind of bad file is a ModelFileError naming the
// problem, never a crash or a half-built model.

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include "neuralfx/model_io.hpp"
#include "test_support.hpp"

using neuralfx::ModelFileError;

namespace {

// True when loading `text` fails with a ModelFileError whose message contains `needle`.
bool fails_with(const std::string& text, const std::string& needle) {
    try {
        neuralfx::load_model_from_string(text);
    } catch (const ModelFileError& e) {
        if (std::string(e.what()).find(needle) != std::string::npos) return true;
        std::fprintf(stderr, "  message '%s' lacks '%s'\n", e.what(), needle.c_str());
        return false;
    }
    std::fprintf(stderr, "  no error for case expecting '%s'\n", needle.c_str());
    return false;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    if (at == std::string::npos) {
        std::fprintf(stderr, "test bug: '%s' not found\n", from.c_str());
        std::abort();
    }
    return s.replace(at, from.size(), to);
}

}  // namespace

int main() {
    const std::string good = nfx_test::random_lstm_model_json(8, 2, true);
    auto model = neuralfx::load_model_from_string(good);
    CHECK(model->sample_rate() == 48000.0);
    CHECK(model->knobs().size() == 1);
    CHECK(model->knobs()[0].name == "gain");
    CHECK(model->knob_index("gain") == 0);
    CHECK(model->knob_index("missing") == -1);
    CHECK(model->num_blocks() == 1);
    CHECK(model->metadata_json().find("\"source\"") != std::string::npos);

    CHECK(fails_with("", "invalid JSON"));
    CHECK(fails_with(good.substr(0, good.size() / 2), "truncated"));
    // Python's json writes non-finite floats as these literals: named, as the Python reader does.
    for (const char* literal : {"NaN", "Infinity", "-Infinity"})
        CHECK(fails_with(replace(good, "\"version\": 1", std::string("\"version\": ") + literal),
                         std::string("(invalid JSON: ") + literal + " is not a JSON value)"));
    CHECK(fails_with("{\"a\": Nope}", "perhaps truncated"));
    CHECK(fails_with("[1, 2]", "expected a JSON object"));
    CHECK(fails_with(replace(good, "\"neuralfx-model\"", "\"something-else\""), "format"));
    CHECK(fails_with(replace(good, "\"version\": 1", "\"version\": 99"), "version 99"));
    // Integers beyond int are refused whole: read as int they wrap (2^32 + 1 -> 1).
    CHECK(fails_with(replace(good, "\"version\": 1", "\"version\": 4294967297"), "version 4294967297"));
    CHECK(fails_with(replace(good, "\"head.bias\": {\"shape\": [1]", "\"head.bias\": {\"shape\": [4294967297]"),
                     "blocks[0].weights.head.bias.shape: expected integers from 0"));
    CHECK(fails_with(replace(good, "\"sample_rate\": 48000", "\"sample_rate\": -5"), "sample_rate"));
    CHECK(fails_with(replace(good, "\"type\": \"LSTM\"", "\"type\": \"Flanger9000\""), "unknown block type 'Flanger9000'"));
    CHECK(fails_with(replace(good, "\"hidden_size\": 8", "\"hidden_size\": 9"), "blocks[0].weights.lstm.weight_ih_l0.shape"));
    CHECK(fails_with(replace(good, "\"hidden_size\": 8", "\"hidden_size\": \"8\""), "blocks[0].config.hidden_size"));
    CHECK(fails_with(replace(good, "\"lstm.bias_hh_l1\"", "\"renamed\""), "blocks[0].weights.lstm.bias_hh_l1: missing"));
    CHECK(fails_with(replace(good, "\"conditioning\": [\"gain\"]", "\"conditioning\": [\"drive\"]"), "knob 'drive'"));
    CHECK(fails_with(replace(good, "\"default\": 5", "\"default\": 50"), "knobs[0].default"));
    CHECK(fails_with(replace(good, "\"blocks\": [", "\"blocks\": [], \"x\": ["), "blocks: empty"));
    CHECK(fails_with(replace(good, "\"head.bias\": {\"shape\": [1], \"data\": [", "\"head.bias\": {\"shape\": [1], \"data\": [1e999,"),
                     "cannot be represented"));

    // Files: a missing path or a folder says so and names the path.
    for (const auto& [path, needle] : {std::pair<std::string, std::string>{"/nonexistent/model.nfx", "does not exist"},
                                       {".", "is a folder, not a model file"}}) {
        try {
            neuralfx::load_model_from_file(path);
            CHECK(false);
        } catch (const ModelFileError& e) {
            CHECK(std::string(e.what()).find("'" + path + "'") != std::string::npos);
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
    }
    const std::string tmp = "test_model_io_tmp.nfx";
    {
        std::ofstream out(tmp);
        out << good;
    }
    CHECK(neuralfx::load_model_from_file(tmp)->num_blocks() == 1);
    // A path through a file is not "missing": the reason is given.
    try {
        neuralfx::load_model_from_file(tmp + "/model.nfx");
        CHECK(false);
    } catch (const ModelFileError& e) {
        CHECK(std::string(e.what()).find("cannot read model file '" + tmp + "/model.nfx': ") != std::string::npos);
    }
    std::remove(tmp.c_str());
    return nfx_test::finish("test_model_io");
}
