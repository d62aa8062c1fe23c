"""torch.compile (MMEngine's ``compile=True``) takes our networks whole:
no graph breaks, also for a segmentor fed many input sizes. Traced with a
counting backend (no inductor: the graphs dynamo captures are what matters
here, and they run as eager code)."""
import sys

import pytest
import torch
import torch._dynamo

from conftest import ROOT

sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))


def compile_counting(model):
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    return torch.compile(model, backend=backend), graphs


@pytest.mark.parametrize('genotype', ['mobilenet-v2-lightnl', 'autonl-s'])
def test_backbone_is_one_graph(genotype):
    from autonl_mmseg.models.backbones import AutoNLNet
    model = AutoNLNet(genotype=genotype, out_indices=(6, )).eval()
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(torch.randn(1, 3, 64, 64))
    assert explained.graph_break_count == 0, [
        b.reason for b in explained.break_reasons]


def test_segmentor_over_input_sizes():
    from analysis_utils import TensorMode, build_model_from_config
    model = TensorMode(build_model_from_config(str(
        ROOT / 'configs/autonl/toy/deeplabv3_mobilenet-v2-lightnl_toy-voc.py'
    ))).eval()
    compiled, graphs = compile_counting(model)
    sizes = [(64, 64), (80, 96), (96, 64), (72, 88), (96, 96)]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for size in sizes:
            x = torch.randn(1, 3, *size, generator=generator)
            out = compiled(x)
            torch.testing.assert_close(out, model(x), rtol=1e-4, atol=1e-5)
    # at most one graph per size: no graph breaks. (How many sizes share a
    # graph depends on guards: LightNL's matmul order and PyTorch's own
    # conv-backend rule, which depends on the thread count.)
    assert 1 <= len(graphs) <= len(sizes)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(torch.randn(1, 3, 72, 88))
    assert explained.graph_break_count == 0, [
        b.reason for b in explained.break_reasons]
