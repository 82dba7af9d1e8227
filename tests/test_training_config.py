"""Every field TRL's ``SFTConfig`` adds is honoured by the VILA steps or refused by name — none is
accepted and silently ignored. The step script is run up to ``trainer.train`` and the trainer it
built is inspected."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dataset_builders.tiny.models import save_tiny_llava
from training import step2
from training.config import HONOURED, REFUSED, sft_only_fields
from training.data.packing import Packer
from training.data.synthetic import write_instruct
from training.loss import dft_loss
from training.train import VilaTrainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train" / "tiny_step2.yaml"


class _Built(Exception):
    def __init__(self, trainer):
        self.trainer = trainer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft-fields")
    return save_tiny_llava(root / "model", seed=0), write_instruct(root / "instruct", n=6), root


def _trainer(setup, monkeypatch, *extra: str) -> VilaTrainer:
    """The trainer step 2 builds with ``extra`` on the command line (training is not started)."""
    model, data, root = setup

    def stop(self, *args, **kwargs):
        raise _Built(self)

    monkeypatch.setattr(VilaTrainer, "train", stop)
    with pytest.raises(_Built) as built:
        step2.cli(["--config", str(CONFIG), "--model_name_or_path", str(model), "--dataset_paths", str(data),
                   "--output_dir", str(root / "out"), *extra])
    return built.value.trainer


def test_every_field_sftconfig_adds_is_either_honoured_or_refused():
    assert set(HONOURED) | set(REFUSED) == sft_only_fields()  # a new TRL field fails here until classified
    assert not set(HONOURED) & set(REFUSED)


REFUSED_VALUES = {
    "model_init_kwargs": '{"attn_implementation": "eager"}', "trust_remote_code": "true",
    "router_aux_loss_coef": "0.01", "chat_template_path": "template.jinja", "dataset_text_field": "caption",
    "dataset_kwargs": '{"skip_prepare_dataset": true}', "dataset_num_proc": "4", "eos_token": "</s>",
    "shuffle_dataset": "true", "eval_packing": "true", "completion_only_loss": "true", "pad_token": "<pad>",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_refused_field_stops_the_run_naming_it(setup, monkeypatch, name):
    with pytest.raises(ValueError, match=f"--{name} .*not supported by the VILA steps"):
        _trainer(setup, monkeypatch, f"--{name}", REFUSED_VALUES[name])


@pytest.mark.parametrize(("args", "refused"), [
    (["--packing_strategy", "wrapped"], "packing_strategy"),
    (["--packing_strategy", "bfd_split"], "packing_strategy"),
    (["--truncation_mode", "keep_end"], "truncation_mode"),
    (["--completion_only_loss", "false"], "completion_only_loss"),
    (["--activation_offloading", "true"], "activation_offloading" if not torch.cuda.is_available() else None),
])
def test_values_that_cannot_be_honoured_are_refused(setup, monkeypatch, args, refused):
    if refused is None:
        pytest.skip("a GPU is present: activation offloading is honoured (see the next test)")
    with pytest.raises(ValueError, match=f"--{refused} "):
        _trainer(setup, monkeypatch, *args)


def test_honoured_fields_reach_the_renderer_packer_collator_and_loss(setup, monkeypatch):
    default = _trainer(setup, monkeypatch)
    assert default.stream.renderer.assistant_only_loss  # tiny_step2.yaml: the recipe
    assert default.stream.renderer.max_length == 512 and not default.stream.packing
    assert not default.data_collator.padding_free and default.compute_loss_func is None
    t = _trainer(setup, monkeypatch, "--assistant_only_loss", "false", "--padding_free", "true", "--packing", "true",
                 "--packing_strategy", "bfd", "--truncation_mode", "keep_start", "--loss_type", "dft",
                 "--max_length", "300", "--pad_to_multiple_of", "8")
    assert not t.stream.renderer.assistant_only_loss and t.stream.renderer.max_length == 300
    assert t.stream.packing and isinstance(next(iter(_packers(t))), Packer)
    assert t.data_collator.padding_free and t.data_collator.pad_to_multiple_of == 8
    assert t.compute_loss_func is dft_loss


def _packers(trainer):
    from training.data.mixture import _Run

    yield _Run(trainer.stream).packer


@pytest.mark.skipif(not torch.cuda.is_available(), reason="activation offloading moves activations off a GPU")
def test_activation_offloading_wraps_the_training_step_on_a_gpu(setup, monkeypatch):
    t = _trainer(setup, monkeypatch, "--activation_offloading", "true", "--use_cpu", "false")
    assert type(t.offload).__name__ == "OffloadActivations"


def test_dft_weights_each_label_token_by_its_probability():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 11, requires_grad=True)
    labels = torch.tensor([[-100, 3, 4, -100, 1], [-100, -100, 7, 2, 9]])
    out = type("Out", (), {"logits": logits})()
    loss = dft_loss(out, labels)
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, labels[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1)
    mask = labels[:, 1:] != -100
    expected = (-(logp * logp.exp()) * mask).sum() / mask.sum()
    torch.testing.assert_close(loss, expected)
    nll = (-logp * mask).sum() / mask.sum()
    assert loss < nll  # each token's NLL is scaled down by p < 1
    loss.backward()
    assert logits.grad[0, 2].abs().sum() == 0 and logits.grad[0, 4].abs().sum() == 0  # ignored next label, last
