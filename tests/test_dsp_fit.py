"""`neuralfx fit`: DSP block parameters fitted to a Pedalboard EQ + gain through the CLI, and
the exported file runs in the kernel with the torch model's sound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import torch

import neuralfx
from neuralfx.audio import write
from neuralfx.cli import main
from neuralfx.model import Model

from conftest import RATE, SIGNALS


def test_fit_recovers_a_pedalboard_peak_and_gain(tmp_path: Path) -> None:
    x = np.concatenate([SIGNALS["noise"](seconds=1.0), SIGNALS["plucks"](seconds=1.0)])
    device = pedalboard.Pedalboard([pedalboard.PeakFilter(cutoff_frequency_hz=1500.0, gain_db=8.0, q=1.5),
                                    pedalboard.Gain(gain_db=-3.0)])
    y = device(x, RATE)
    write(tmp_path / "in.wav", x, RATE)
    write(tmp_path / "target.wav", y, RATE)
    template = {
        "sample_rate": RATE,
        "blocks": [
            {"type": "ParametricEQ", "config": {"sample_rate": RATE, "bands": [{"mode": "peak"}]}},
            {"type": "Gain", "config": {}},
        ],
    }
    (tmp_path / "template.json").write_text(json.dumps(template))
    out = tmp_path / "fitted.nfx"
    args = [str(tmp_path / n) for n in ("template.json", "in.wav", "target.wav")]
    assert main(["fit", *args, "-o", str(out), "--steps", "120", "--lr", "0.01", "--segment", "4096", "--batch", "2"]) == 0

    model = Model.load(out)
    band, gain = model.blocks[0].bands[0], model.blocks[1]
    # Where training must land: Pedalboard's settings (same RBJ formulas, see docs/DSP.md).
    assert abs(float(band.frequency.detach()) - 1500.0) < 75.0
    assert abs(float(band.gain_db.detach()) - 8.0) < 0.5
    assert abs(float(band.q.detach()) - 1.5) < 0.15
    assert abs(float(gain.gain_db.detach()) + 3.0) < 0.3
    meta = json.loads(out.read_text())["metadata"]
    assert meta["validation_esr"] < 1e-3
    # The exported file sounds the same in the kernel as in torch.
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.max(np.abs(neuralfx.NeuralEffect.from_file(out)(x, RATE) - ref)) <= 1e-4


def test_fit_reports_bad_templates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    x = SIGNALS["noise"](seconds=0.5)
    write(tmp_path / "a.wav", x, RATE)
    (tmp_path / "t.json").write_text(json.dumps({"sample_rate": RATE, "blocks": [{"type": "Biquad", "config": {"mode": "bell", "sample_rate": RATE}}]}))
    assert main(["fit", str(tmp_path / "t.json"), str(tmp_path / "a.wav"), str(tmp_path / "a.wav"), "-o", str(tmp_path / "o.nfx")]) == 1
    assert "template.blocks[0].config" in capsys.readouterr().err
