// neuralfx._core: the C++ kernel seen from Python. Thin on purpose: shape checks, dtype
// coercion and Pedalboard conventions live in neuralfx/effects.py.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "neuralfx/build_info.hpp"
#include "neuralfx/model_io.hpp"

namespace py = pybind11;
using neuralfx::Model;

namespace {

// One model instance is one signal state: concurrent calls on it are a caller bug, reported
// instead of silently interleaving two signals' state.
struct PyModel {
    std::unique_ptr<Model> model;
    std::mutex busy;
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
                 std::unique_lock<std::mutex> lock(p.busy, std::try_to_lock);
                 if (!lock) throw std::runtime_error("model is being processed by another thread");
                 p.model->prepare(channels, max_block_size);
             },
             py::arg("channels"), py::arg("max_block_size"))
        .def("reset",
             [](PyModel& p) {
                 std::unique_lock<std::mutex> lock(p.busy, std::try_to_lock);
                 if (!lock) throw std::runtime_error("model is being processed by another thread");
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
                    std::unique_lock<std::mutex> lock(p.busy, std::try_to_lock);
                    if (!lock) throw std::runtime_error("model is being processed by another thread; use one effect per thread");
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
}
