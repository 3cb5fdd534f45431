"""Every architecture `neuralfx train --arch` offers trains (a few steps here) and exports a model
file that the C++ kernel runs like torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pedalboard
import pytest
import torch

import neuralfx
from neuralfx.architectures import ARCHITECTURES
from neuralfx.capture import capture
from neuralfx import modelfile
from neuralfx.cli import main
from neuralfx.model import Model
from neuralfx.training import Capture, TrainConfig, build_model, train

TINY = dict(hidden_size=8, batch_size=2, tbptt_samples=512, chunks_per_segment=2, warmup_samples=256, max_steps=4,
            validate_every=4, learning_rate=1e-3)


@pytest.fixture(scope="module")
def drive_capture() -> Capture:
    device = pedalboard.Pedalboard([pedalboard.Gain(gain_db=10), pedalboard.Distortion(drive_db=6)])
    return Capture(capture(device, 48000, 12.0))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_architecture_trains_and_exports_a_file_the_kernel_runs(arch: str, drive_capture: Capture,
                                                                      tmp_path: Path) -> None:
    config = TrainConfig(arch=arch, **TINY)
    torch.manual_seed(config.seed)
    initial = build_model(config, 48000).state_dict()
    result = train([drive_capture], config, progress=lambda _: None)
    assert result.steps == 4
    assert np.isfinite(result.validation_esr)
    trained = result.model.state_dict()
    assert any(not torch.equal(initial[n], trained[n]) for n in initial), "training changed no weight"

    path = result.model.save(tmp_path / f"{arch}.nfx", result.metadata("test", config, name=arch))
    model = Model.load(path)
    assert type(model.blocks[0]).__name__.lower() == arch.split("-")[0]
    x = drive_capture.pair.input[:9000]
    with torch.no_grad():
        reference = model(torch.from_numpy(x)[None])[0][0].numpy()
    y = neuralfx.load(str(path)).process(x, 48000, reset=True)
    assert np.max(np.abs(y - reference)) <= 1e-4


def test_cli_train_takes_arch(drive_capture: Capture, tmp_path: Path) -> None:
    paths = drive_capture.pair.save(tmp_path)
    out = tmp_path / "tcn.nfx"
    assert main(["train", str(paths[0]), str(paths[1]), "-o", str(out), "--arch", "tcn", "--max-steps", "2",
                 "--batch-size", "3"]) == 0
    assert Model.load(out).blocks[0].type_name == "TCN"
    assert modelfile.load(out).metadata["config"]["batch_size"] == 3
    with pytest.raises(SystemExit):
        main(["train", str(paths[0]), str(paths[1]), "-o", str(out), "--arch", "transformer"])
