"""``--amp`` on GPUs: bf16 (fp16 without bf16) and channels-last; what of
it runs on a CPU: the config it writes, ChannelsLastHook keeping outputs and
checkpoints, bf16 autocast steps staying finite."""
import copy
from types import SimpleNamespace

import pytest
import torch

from conftest import ROOT

TOY_CLS = str(ROOT / 'configs/autonl/toy/mobilenet-v2-lightnl_toy-in1k.py')


def amp_config(monkeypatch, bf16, **extra):
    from autonl_mmseg.engine.launch import load_config, use_fast_gpu_training
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: bf16)
    cfg = load_config(TOY_CLS)
    cfg.merge_from_dict(extra)
    use_fast_gpu_training(cfg)
    return cfg


def test_amp_is_bf16_and_channels_last(monkeypatch):
    cfg = amp_config(monkeypatch, bf16=True)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.loss_scale == dict(enabled=False)
    assert [h['type'] for h in cfg.custom_hooks].count(
        'ChannelsLastHook') == 1
    # the optimizer settings of the config are kept
    assert cfg.optim_wrapper.optimizer.type
    # fp16 where bf16 is missing, with dynamic loss scaling
    cfg = amp_config(monkeypatch, bf16=False)
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_channels_last_switch(monkeypatch):
    cfg = amp_config(monkeypatch, bf16=True, channels_last=False)
    assert not any(h['type'] == 'ChannelsLastHook'
                   for h in cfg.get('custom_hooks', None) or [])


def build_toy_classifier():
    import sys
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))
    from analysis_utils import build_model_from_config
    torch.manual_seed(0)
    model = build_model_from_config(TOY_CLS)
    model.init_weights()
    # LightNL branches active (after init they are the identity)
    for name, param in model.named_parameters():
        if 'light_nl.bn.weight' in name:
            param.data.fill_(0.05)
    return model


def toy_batch(num_classes, batch=4, size=32):
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, size, size), generator=generator,
                            dtype=torch.uint8) for _ in range(batch)]
    samples = [DataSample().set_gt_label(i % num_classes)
               for i in range(batch)]
    return dict(inputs=inputs, data_samples=samples)


def test_channels_last_hook_keeps_outputs_and_checkpoints(tmp_path):
    from mmengine.runner import load_checkpoint, save_checkpoint

    from autonl_mmseg.engine import ChannelsLastHook
    model = build_toy_classifier().eval()
    reference = copy.deepcopy(model)
    ChannelsLastHook().before_run(SimpleNamespace(model=model))
    weights = [p for p in model.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in weights)
    assert any(not p.is_contiguous() for p in weights)  # the stem, at least
    data = toy_batch(model.head.num_classes)
    processed = model.data_preprocessor(copy.deepcopy(data), False)
    assert processed['inputs'].is_contiguous(
        memory_format=torch.channels_last)
    with torch.no_grad():
        out = model(processed['inputs'], mode='tensor')
        ref = reference(reference.data_preprocessor(copy.deepcopy(data),
                                                    False)['inputs'],
                        mode='tensor')
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    # a channels-last checkpoint loads into an NCHW model, and back
    path = str(tmp_path / 'cl.pth')
    save_checkpoint(model.state_dict(), path)
    fresh = build_toy_classifier().eval()
    load_checkpoint(fresh, path, strict=True, logger='silent')
    with torch.no_grad():
        torch.testing.assert_close(
            fresh(processed['inputs'].contiguous(), mode='tensor'), out,
            rtol=1e-4, atol=1e-5)


def gradients(model, data):
    model.zero_grad()
    torch.manual_seed(1)  # the same dropout masks
    processed = model.data_preprocessor(copy.deepcopy(data), True)
    inputs = processed['inputs'].double()  # float64: no round-off noise
    sum(model(inputs, processed['data_samples'], mode='loss').values()
        ).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()
                      if p.grad is not None])


def test_channels_last_training_gradients():
    """One training step's gradients do not depend on the layout, LightNL's
    transposed product included (float64: in float32 this toy network's
    BN over 4 samples amplifies round-off to about 1e-2)."""
    from autonl_mmseg.engine import ChannelsLastHook
    reference = build_toy_classifier().train().double()
    model = copy.deepcopy(reference)
    ChannelsLastHook().before_run(SimpleNamespace(model=model))
    data = toy_batch(model.head.num_classes, size=64)
    ref, got = gradients(reference, data), gradients(model, data)
    assert ((got - ref).norm() / ref.norm()).item() < 1e-9


def test_bf16_autocast_channels_last_steps_stay_finite():
    """Training steps as ``--amp`` runs them (bf16 autocast, channels last;
    on CPU here) stay finite and start at the fp32 loss."""
    from mmengine.optim import OptimWrapper

    from autonl_mmseg.engine import ChannelsLastHook
    losses = {}
    for mode in ('fp32', 'bf16'):
        model = build_toy_classifier().train()
        if mode == 'bf16':
            ChannelsLastHook().before_run(SimpleNamespace(model=model))
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
        data = toy_batch(model.head.num_classes, size=64)
        losses[mode] = []
        for step in range(3):
            torch.manual_seed(step)  # the same dropout masks
            with torch.autocast('cpu', dtype=torch.bfloat16,
                                enabled=mode == 'bf16'):
                log = model.train_step(copy.deepcopy(data), wrapper)
            losses[mode].append(float(log['loss']))
    assert torch.isfinite(torch.tensor(losses['bf16'])).all()
    assert losses['bf16'] == pytest.approx(losses['fp32'], rel=0.05)
