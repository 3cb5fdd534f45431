// neuralfx._core: the C++ kernel seen from Python. Thin on purpose: shape checks, dtype
// coercion and Pedalboard conventions live in neuralfx/effects.py.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "neuralfx/build_info.hpp"
#include "neuralfx/model_io.hpp"
#include "neuralfx/resampler.hpp"

namespace py = pybind11;
using neuralfx::Model;

namespace {

// The binding's calls run without the GIL: a second thread on the same object (a model or a
// resampler, one signal state each) is refused with `message`, not let in to corrupt it.
std::unique_lock<std::mutex> exclusive(std::mutex& busy, const char* message) {
    std::unique_lock<std::mutex> lock(busy, std::try_to_lock);
    if (!lock) throw std::runtime_error(message);
    return lock;
}

// Every call that touches a model's state says the same (prepare and reset lacked the advice).
constexpr const char* kModelBusy = "model is being processed by another thread; use one effect per thread";

// One model instance is one signal state: concurrent calls on it are a caller bug, reported
// instead of silently interleaving two signals' state.
struct PyModel {
    std::unique_ptr<Model> model;
    std::mutex busy;
};

// One StreamResampler per channel, without delay: output k is the input at time k * in / out
// exactly (pedalboard's StreamResampler, used before, put 44.1 <-> 48 kHz output a third of a
// sample early each way, and its flush lost a sample or two). flush() feeds silence until every
// output up to the end of the input has come out, and returns exactly those.
struct PyResampler {
    PyResampler(double in_rate, double out_rate, int channels) {
        if (channels < 1) throw py::value_error("channels must be >= 1");
        in_rate_ = whole_rate(in_rate);
        out_rate_ = whole_rate(out_rate);
        streams_.resize(static_cast<size_t>(channels));
        for (auto& s : streams_) s.configure(in_rate_, out_rate_, 0, kChunk);
    }

    static long whole_rate(double rate) {
        if (!(rate >= 1.0 && rate <= 1e7) || rate != std::floor(rate)) {
            std::ostringstream text;  // 44100.5, not std::to_string's 44100.500000
            text.precision(12);
            text << "sample rates must be whole numbers of Hz between 1 and 10 MHz, got " << rate;
            throw py::value_error(text.str());
        }
        return static_cast<long>(rate);
    }

    int channels() const { return static_cast<int>(streams_.size()); }
    int half_taps() const { return streams_[0].half_taps(); }

    // (channels, n) samples with rows `stride` apart: every output they complete.
    py::array_t<float> process(const float* in, py::ssize_t stride, py::ssize_t n) {
        const auto lock = exclusive(busy_, kBusy);
        std::vector<std::vector<float>> outs(streams_.size());
        const long long count = feed(in, stride, n, outs);
        consumed_ += n;
        produced_ += count;
        return to_array(outs, count);
    }

    // The outputs still owed: silence goes in until every output inside the input so far
    // (ceil(consumed * out / in) in all) has come out. Then the stream starts afresh.
    py::array_t<float> flush() {
        const auto lock = exclusive(busy_, kBusy);
        const long long owed = (consumed_ * out_rate_ + in_rate_ - 1) / in_rate_ - produced_;
        const std::vector<float> silence(static_cast<size_t>(kChunk), 0.0f);
        std::vector<std::vector<float>> outs(streams_.size());
        long long have = 0;
        while (have < owed) have += feed(silence.data(), 0, kChunk, outs);
        py::array_t<float> result = to_array(outs, std::max(owed, 0LL));
        for (auto& s : streams_) s.reset();
        consumed_ = produced_ = 0;
        return result;
    }

private:
    static constexpr const char* kBusy = "resampler is being used by another thread; use one effect per thread";

    // Appends each channel's outputs to outs; returns how many each got.
    long long feed(const float* in, py::ssize_t stride, py::ssize_t n, std::vector<std::vector<float>>& outs) {
        py::gil_scoped_release release;
        long long produced = -1;
        for (size_t c = 0; c < streams_.size(); ++c) {
            auto& out = outs[c];
            const size_t before = out.size();
            for (py::ssize_t start = 0; start < n; start += kChunk) {
                const int len = static_cast<int>(std::min<py::ssize_t>(kChunk, n - start));
                const size_t at = out.size();
                out.resize(at + static_cast<size_t>(streams_[c].max_output_for(len)));
                const int got = streams_[c].process(in + static_cast<py::ssize_t>(c) * stride + start, len, out.data() + at,
                                                    static_cast<int>(out.size() - at));
                out.resize(at + static_cast<size_t>(got));
            }
            const long long count = static_cast<long long>(out.size() - before);
            // Every channel does the same index arithmetic.
            if (produced >= 0 && count != produced) throw std::logic_error("resampler channels disagree on their output count");
            produced = count;
        }
        return produced;
    }

    // The first `count` samples of each channel.
    static py::array_t<float> to_array(const std::vector<std::vector<float>>& outs, long long count) {
        py::array_t<float> result({static_cast<py::ssize_t>(outs.size()), static_cast<py::ssize_t>(count)});
        for (size_t c = 0; c < outs.size() && count > 0; ++c)
            std::memcpy(result.mutable_data(static_cast<py::ssize_t>(c), 0), outs[c].data(), sizeof(float) * static_cast<size_t>(count));
        return result;
    }

    static constexpr int kChunk = 4096;
    std::vector<neuralfx::StreamResampler> streams_;
    long in_rate_ = 1, out_rate_ = 1;
    long long consumed_ = 0, produced_ = 0;
    std::mutex busy_;
};

int knob_index_or_throw(const Model& m, const std::string& name) {
    const int index = m.knob_index(name);
    if (index < 0) {
        std::string known;
        for (const auto& k : m.knobs()) known += (known.empty() ? "" : ", ") + k.name;
        throw py::key_error("model has no knob '" + name + "' (knobs: " + (known.empty() ? "none" : known) + ")");
    }
    return index;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "neuralfx real-time kernel";
    // Kernel load errors surface as the Python package's own neuralfx.ModelFileError.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const neuralfx::ModelFileError& e) {
            py::object cls = py::module_::import("neuralfx.errors").attr("ModelFileError");
            // The message can quote bytes of a non-UTF-8 file: decode leniently.
            const std::string what = e.what();
            py::object message = py::reinterpret_steal<py::object>(
                PyUnicode_DecodeUTF8(what.data(), static_cast<py::ssize_t>(what.size()), "replace"));
            PyErr_SetObject(cls.ptr(), message.ptr());
        } catch (const neuralfx::UnsupportedRateError& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        }
    });
    m.attr("FORMAT_VERSION") = neuralfx::kModelFormatVersion;
    m.def("build_info", &neuralfx::build_info, "Compiler, flags and SIMD path of this build.");

    py::class_<PyModel>(m, "Model")
        .def_static(
            "from_file",
            [](const std::string& path) {
                auto p = std::make_unique<PyModel>();
                p->model = neuralfx::load_model_from_file(path);
                return p;
            },
            py::arg("path"))
        .def_static(
            "from_json",
            [](const std::string& text) {
                auto p = std::make_unique<PyModel>();
                p->model = neuralfx::load_model_from_string(text);
                return p;
            },
            py::arg("text"))
        .def_property_readonly("sample_rate", [](const PyModel& p) { return p.model->sample_rate(); })
        .def_property_readonly("latency_samples", [](const PyModel& p) { return p.model->latency_samples(); })
        .def_property_readonly("tail_seconds", [](const PyModel& p) { return p.model->tail_seconds(); })
        .def_property_readonly("multiply_adds_per_sample",
                               [](const PyModel& p) { return p.model->multiply_adds_per_sample(); })
        .def_property_readonly("metadata_json", [](const PyModel& p) { return p.model->metadata_json(); })
        .def_property_readonly("prepared_channels", [](const PyModel& p) { return p.model->prepared_channels(); })
        .def_property_readonly("max_block_size", [](const PyModel& p) { return p.model->max_block_size(); })
        .def_property_readonly("knobs",
                               [](const PyModel& p) {
                                   py::list out;
                                   for (const auto& k : p.model->knobs()) {
                                       py::dict d;
                                       d["name"] = k.name;
                                       d["min"] = k.minimum;
                                       d["max"] = k.maximum;
                                       d["default"] = k.default_value;
                                       d["unit"] = k.unit;
                                       out.append(d);
                                   }
                                   return out;
                               })
        .def("set_knob",
             [](PyModel& p, const std::string& name, float value) {
                 const int index = knob_index_or_throw(*p.model, name);
                 if (std::isnan(value)) throw py::value_error("knob '" + name + "' cannot be set to NaN");
                 p.model->set_knob(index, value);
             },
             py::arg("name"), py::arg("value"))
        .def("get_knob",
             [](const PyModel& p, const std::string& name) {
                 return p.model->knob(knob_index_or_throw(*p.model, name));
             },
             py::arg("name"))
        .def("prepare",
             [](PyModel& p, int channels, int max_block_size) {
                 if (channels < 1) throw py::value_error("channels must be >= 1");
                 if (max_block_size < 1) throw py::value_error("max_block_size must be >= 1");
                 // Preparing settles the model on 8192 samples of silence (an LSTM-384: 0.87 s),
                 // as long as processing a block and as free of Python.
                 py::gil_scoped_release release;
                 const auto lock = exclusive(p.busy, kModelBusy);
                 p.model->prepare(channels, max_block_size);
             },
             py::arg("channels"), py::arg("max_block_size"))
        .def("reset",
             [](PyModel& p) {
                 py::gil_scoped_release release;  // after a knob move a reset settles again, as prepare()
                 const auto lock = exclusive(p.busy, kModelBusy);
                 p.model->reset();
             })
        .def(
            "process",
            [](PyModel& p, py::array_t<float, py::array::c_style | py::array::forcecast> audio) {
                if (audio.ndim() != 2) throw py::value_error("expected a (channels, samples) float32 array");
                const py::ssize_t channels = audio.shape(0);
                const py::ssize_t samples = audio.shape(1);
                if (channels < 1) throw py::value_error("audio has no channels: expected a (channels, samples) array");
                py::array_t<float> out({channels, samples});
                if (samples == 0) return out;  // nothing to run (and no row 0 to point at)
                std::memcpy(out.mutable_data(), audio.data(), sizeof(float) * static_cast<size_t>(channels * samples));
                std::vector<float*> rows(static_cast<size_t>(channels));
                for (py::ssize_t c = 0; c < channels; ++c) rows[static_cast<size_t>(c)] = out.mutable_data(c, 0);
                {
                    py::gil_scoped_release release;
                    const auto lock = exclusive(p.busy, kModelBusy);
                    // Checked under the lock: prepare() may change the channel count.
                    const int prepared = p.model->prepared_channels();
                    if (channels > prepared)
                        throw py::value_error("audio has " + std::to_string(channels) + " channels, model prepared for " +
                                              std::to_string(prepared) + ": call prepare() first");
                    // The kernel counts samples in int: longer arrays go in spans of 2^30.
                    constexpr py::ssize_t kSpan = py::ssize_t{1} << 30;
                    for (py::ssize_t start = 0; start < samples; start += kSpan) {
                        if (start > 0)
                            for (float*& row : rows) row += kSpan;
                        const int n = static_cast<int>(std::min(kSpan, samples - start));
                        if (!p.model->process(rows.data(), static_cast<int>(channels), n))
                            throw std::runtime_error("the kernel refused the block: call prepare() first");
                    }
                }
                return out;
            },
            py::arg("audio"),
            "Processes a (channels, samples) float32 array in a copy; keeps state across calls.");

    py::class_<PyResampler>(m, "Resampler")
        .def(py::init<double, double, int>(), py::arg("in_rate"), py::arg("out_rate"), py::arg("channels"))
        .def_property_readonly("channels", &PyResampler::channels)
        .def_property_readonly("half_taps", &PyResampler::half_taps,
                               "How far each output reads the input on either side, in input samples.")
        .def(
            "process",
            [](PyResampler& r, py::array_t<float, py::array::c_style | py::array::forcecast> audio) {
                if (audio.ndim() != 2 || audio.shape(0) != r.channels())
                    throw py::value_error("expected a (" + std::to_string(r.channels()) + ", samples) float32 array");
                return r.process(audio.data(), audio.shape(1), audio.shape(1));
            },
            py::arg("audio"),
            "Converts a (channels, samples) float32 block; returns every output sample it completes.")
        .def("flush", &PyResampler::flush, "The output samples still owed at the end of the input; then starts afresh.");
}
