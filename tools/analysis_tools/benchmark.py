# Copyright (c) autonl_mmseg contributors.
"""Latency and peak memory of LightNL and the AutoNL networks, side by side.

    python tools/analysis_tools/benchmark.py [--device cpu|cuda|all]
        [--repeats N] [--warmup N] [--batch 1 8] [--seg-batch 1 2]
        [--only lightnl mobilenet levers autonl deeplab train search]
        [--train-batch 8] [--compile MODE] [--markdown OUT] [--json OUT]
        [--threads N] [--retain-freed-memory]

Groups (the first model of each comparison is its reference; ratio =
model / reference: of latency, the median over the repeats of the two times
of one repeat (:func:`paired_ratio`); and of peak memory):

1. ``lightnl``: mmcv's ``NonLocal2d`` vs ``LightNL`` at the same position and
   size. ``NonLocal2d(mode='dot_product', reduction=1)`` is the Wang et al.
   row of Table 1: theta, phi and g are 1x1 convs with C output channels,
   an HW x HW affinity divided by HW (no softmax), W_z a 1x1 conv, residual.
   56x56x24 (LightNL r=0.25, s=2) and 64x64x320 (LightNL r=0.25, s=1 and s=2).
2. ``mobilenet``: ``AutoNLNet`` 'mobilenet-v2' vs 'mobilenet-v2-lightnl'
   backbones at 224 (default out_indices: the 1280-channel head conv).
3. ``autonl``: MMPretrain's ``EfficientNet(arch='b0')`` (reference) and
   ``MobileNetV3(arch='large')`` vs AutoNL-S and AutoNL-L backbones at 224.
4. ``deeplab``: DeepLabV3 (ASPP, output stride 8) with MobileNetV2
   (reference) vs with AutoNL-S, the whole segmentor in 'tensor' mode at
   512x512, batch 1 and 2 (``--seg-batch``).

Opt-in groups (``--only``): ``levers`` (2b: the MobileNetV2 pair in every
inference form: eager, BN folded, channels-last, onnxruntime, CUDA graphs,
``--compile MODE``); ``train`` (5: a training step of the MobileNetV2 /
MobileNetV2-LightNL classifiers, fp32 / channels-last, and on CUDA fp16 vs
bf16 + channels-last, ``--train-batch``); ``search`` (6: a training step of
the search, ``configs/autonl/autonl_search_in1k.py`` with its cost term on,
against the fixed AutoNL-L classifier, in the same forms, with the paper's
8-epoch ImageNet search projected to hours at the measured throughput).

How it measures:

* eval mode, ``torch.inference_mode``; ``torch.set_num_threads`` is left at
  its default (``--threads`` overrides it) and printed, with the load average
  (on a shared machine other jobs slow small ops most: 2 OpenMP threads wait
  for each other at every op).
* Warm-up runs, then N timed runs; the median is reported. The models of one
  comparison are timed interleaved: every repeat runs each model once,
  starting with a different model each repeat, so that machine noise hits
  all of them alike. The latency ratio pairs the times of one repeat
  (:func:`paired_ratio`): this VM has slow phases of seconds (+40%), and
  where one starts near the middle of a run a ratio of the two medians
  compares a slow median with a fast one (measured: 1.29 where the paired
  ratio was 1.09; the JSON keeps both, ``ratio_of_medians``). A model
  whose forward is shorter than ``MIN_RUN_S`` repeats it within one timed
  run to fill ``MIN_RUN_S`` (the count is fixed from the warm-up) and
  reports the time per forward.
* Peak memory is the largest amount of memory that one forward has
  allocated beyond what existed before it (weights and input excluded).
  CPU: the allocation events of ``torch.profiler`` (``profile_memory=True``)
  replayed in order, like ``tracemalloc``: exact tensor bytes of PyTorch's CPU
  allocator, deterministic (RSS is not: the C allocator keeps freed pages);
  memory that libraries allocate behind PyTorch's back is not seen. GPU:
  ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``.
* Page faults: by default glibc gives large freed buffers back to the OS, so
  a forward page-faults its activations in again (on this 2-core VM about
  half of MobileNetV2's batch-8 time). ``--retain-freed-memory`` makes glibc
  keep freed memory (``mallopt``: no mmap, no trim), like jemalloc/tcmalloc
  in a serving process; latencies then measure compute, not the OS.
* Targets (CPU): MobileNetV2-LightNL within 1.10x of MobileNetV2's latency
  at batch 1 and batch 8; LightNL at least 50x faster than NonLocal2d at
  56x56x24. GPU figures, when a GPU is present, are informative.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..',
                            'deployment'))

from analysis_utils import (ROOT, TARGETS, TensorMode,  # noqa: E402
                            build_model_from_config, synchronize,
                            time_per_call)

from autonl_mmseg.models.backbones import AutoNLNet  # noqa: E402
from autonl_mmseg.models.plugins import LightNL, fused_light_nl  # noqa: E402

GROUPS = ('lightnl', 'mobilenet', 'levers', 'autonl', 'deeplab', 'train',
          'search')
#: groups of the default run (``train`` and ``search`` are opt-in:
#: ``--only train search``)
DEFAULT_GROUPS = ('lightnl', 'mobilenet', 'levers', 'autonl', 'deeplab')
TITLES = {
    'lightnl': '1. LightNL vs mmcv NonLocal2d (dot_product, reduction=1: '
               'theta/phi/g with C channels, Wang et al. as in Table 1)',
    'mobilenet': '2. MobileNetV2 vs MobileNetV2-LightNL backbones, 224x224',
    'autonl': '3. AutoNL-S / AutoNL-L vs EfficientNet-B0 and MobileNetV3-L '
              'backbones, 224x224',
    'deeplab': '4. DeepLabV3 (ASPP, OS 8) with MobileNetV2 vs AutoNL-S, '
               'whole model in tensor mode, 512x512',
    'levers': '2b. MobileNetV2 vs MobileNetV2-LightNL, 224x224, one '
              'comparison per inference form (the levers, side by side)',
    'train': '5. Training step of the MobileNetV2 / MobileNetV2-LightNL '
             'ImageNet classifiers (forward, backward, SGD step)',
    'search': '6. Training step of the search (AutoNLSearchClassifier, '
              'default space, cost on, gates calibrated) vs the fixed '
              'AutoNL-L classifier, 224x224',
}
# (repeats, warm-up) per group: fewer for the big models, so that the default
# run stays within about 5 minutes on a 2-core CPU. --repeats/--warmup win.
DEFAULT_RUNS = {'lightnl': (7, 1), 'mobilenet': (21, 3), 'levers': (15, 2),
                'autonl': (9, 2), 'deeplab': (3, 1), 'train': (5, 2),
                'search': (5, 2)}
MIN_RUN_S = 0.02
# (channels, size, LightNL spatial strides); LightNL channel ratio 0.25.
LIGHT_NL_SIZES = ((24, 56, (2, )), (320, 64, (1, 2)))
CHANNEL_RATIO = 0.25
SEG_CONFIGS = (('DeepLabV3 MobileNetV2',
                'configs/autonl/deeplabv3_mobilenet-v2_voc.py'),
               ('DeepLabV3 AutoNL-S', 'configs/autonl/deeplabv3_autonl_voc.py'))
MOBILENET_TARGET = TARGETS['mobilenet_lightnl_latency_ratio']
LIGHT_NL_TARGET = TARGETS['light_nl_speedup']


@dataclass
class Case:
    """Models compared side by side on one input; the first is the
    reference. ``shape`` is (C, H, W) without the batch dimension."""
    group: str
    title: str
    models: dict
    shape: tuple
    batches: tuple
    settings: list = field(default_factory=list)
    #: devices the case runs on (None: all); False: no peak memory (memory
    #: that onnxruntime allocates is not PyTorch's, so it is not seen)
    devices: tuple = None
    memory: bool = True


# --------------------------------------------------------------------------
# The groups
# --------------------------------------------------------------------------
def lightnl_cases(sizes=LIGHT_NL_SIZES, channel_ratio=CHANNEL_RATIO,
                  batches=(1, 8)):
    """Group 1: one Case per (channels, size), NonLocal2d as reference."""
    from mmcv.cnn import NonLocal2d
    cases = []
    for channels, size, strides in sizes:
        models = {'NonLocal2d': NonLocal2d(channels, reduction=1,
                                           mode='dot_product')}
        settings = [f'NonLocal2d(in_channels={channels}, reduction=1, '
                    f"mode='dot_product')"]
        for stride in strides:
            name = f'LightNL r={channel_ratio:g} s={stride}'
            models[name] = LightNL(channels, channel_ratio=channel_ratio,
                                   spatial_stride=stride)
            settings.append(f'LightNL(in_channels={channels}, channel_ratio='
                            f'{channel_ratio:g}, spatial_stride={stride})')
        cases.append(Case('lightnl', f'{size}x{size}x{channels}', models,
                          (channels, size, size), tuple(batches), settings))
    return cases


def mobilenet_cases(size=224, batches=(1, 8)):
    """Group 2: MobileNetV2 vs MobileNetV2-LightNL backbones."""
    models = {name: AutoNLNet(genotype=name)
              for name in ('mobilenet-v2', 'mobilenet-v2-lightnl')}
    return [Case('mobilenet', f'{size}x{size}', models, (3, size, size),
                 tuple(batches), ["AutoNLNet(genotype=..., out_indices=(-1,))"
                                  ': head conv, 1280 channels'])]


def autonl_cases(size=224, batches=(1, 8)):
    """Group 3: EfficientNet-B0 (reference), MobileNetV3-L, AutoNL-S/L."""
    from mmpretrain.models import EfficientNet, MobileNetV3
    models = {
        'EfficientNet-B0': EfficientNet(arch='b0'),
        'MobileNetV3-L': MobileNetV3(arch='large'),
        'AutoNL-S': AutoNLNet(genotype='autonl-s'),
        'AutoNL-L': AutoNLNet(genotype='autonl-l'),
    }
    return [Case('autonl', f'{size}x{size}', models, (3, size, size),
                 tuple(batches),
                 ["mmpretrain EfficientNet(arch='b0') and MobileNetV3("
                  "arch='large') with default out_indices (last conv); "
                  'AutoNLNet head conv'])]


def build_segmentor(config):
    """A config's segmentor in tensor mode, SyncBN turned into BN (SyncBN has
    no CPU kernel and needs a process group; in eval mode both compute the
    same)."""
    return TensorMode(build_model_from_config(osp.join(ROOT, config)))


def deeplab_cases(size=512, batches=(1, 2)):
    """Group 4: DeepLabV3 with MobileNetV2 (reference) vs with AutoNL-S."""
    models = {name: build_segmentor(config) for name, config in SEG_CONFIGS}
    return [Case('deeplab', f'{size}x{size}', models, (3, size, size),
                 tuple(batches), [f'{name}: {config}'
                                  for name, config in SEG_CONFIGS])]


class ChannelsLast(nn.Module):
    """A model and its input in channels-last memory format (the input
    conversion is timed with the model: a deployed network gets NCHW)."""

    def __init__(self, model):
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last)

    def forward(self, x):
        return self.model(x.contiguous(memory_format=torch.channels_last))


class PyTorchLightNL(nn.Module):
    """``model`` with LightNL's fused CPU kernel turned off (its blocks take
    the PyTorch path), to show that lever on its own."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        with fused_light_nl(False):
            return self.model(x)


class OnnxRuntime(nn.Module):
    """``model`` exported to ONNX for each input shape (N, C, H, W) of
    ``shapes`` and run by onnxruntime on the CPU with
    ``torch.get_num_threads()`` intra-op threads."""

    def __init__(self, model, directory, shapes):
        super().__init__()
        from pytorch2onnx import export, onnxruntime_session
        self.sessions = {}
        for shape in shapes:
            path = osp.join(directory,
                            f'{id(self)}_{"x".join(map(str, shape))}.onnx')
            export(model.eval(), path, shape[2:], batch=shape[0])
            self.sessions[tuple(shape)] = onnxruntime_session(
                path, torch.get_num_threads())

    def forward(self, x):
        return self.sessions[tuple(x.shape)].run(
            None, {'input': x.numpy()})[0]


def deployed(model):
    """A copy of ``model`` with every BN folded (``switch_to_deploy``)."""
    model = copy.deepcopy(model).eval()
    model.switch_to_deploy()
    return model


def lever_cases(size=224, batches=(1, 8), compile_mode=None):
    """Group 2b: the MobileNetV2 pair in each inference form, one Case per
    form, so that every form's LightNL / MobileNetV2 ratio is printed:
    eager as built; deploy form (BN folded into the convs, LightNL's into
    its depthwise conv); deploy + channels-last (no layout changes: oneDNN
    and cuDNN run the depthwise convs in NHWC, and LightNL returns y in its
    input's layout), with LightNL's PyTorch path and then (CPU) with its
    fused kernel (``light_nl_cpu``: one call per block); onnxruntime (CPU)
    of the deploy form; CUDA graphs
    (``torch.compile(mode='reduce-overhead')``, CUDA only); with
    ``compile_mode``, ``torch.compile(mode=compile_mode)`` of the deploy +
    channels-last form."""
    import tempfile
    names = ('mobilenet-v2', 'mobilenet-v2-lightnl')
    nets = {name: AutoNLNet(genotype=name).eval() for name in names}
    forms = [('eager', lambda m: m, None, True),
             ('deploy (BN folded)', deployed, None, True),
             ('deploy + channels-last',
              lambda m: PyTorchLightNL(ChannelsLast(deployed(m))), None,
              True),
             ('deploy + channels-last + fused LightNL kernel',
              lambda m: ChannelsLast(deployed(m)), ('cpu', ), True)]
    directory = tempfile.mkdtemp(prefix='autonl_benchmark_')
    forms.append(('onnxruntime, deploy form',
                  lambda m: OnnxRuntime(deployed(m), directory,
                                        [(b, 3, size, size) for b in batches]),
                  ('cpu', ), False))
    forms.append(('CUDA graphs (compile reduce-overhead), deploy + '
                  'channels-last',
                  lambda m: torch.compile(ChannelsLast(deployed(m)),
                                          mode='reduce-overhead'),
                  ('cuda', ), True))
    if compile_mode:
        forms.append((f'torch.compile({compile_mode}), deploy + '
                      'channels-last',
                      lambda m: torch.compile(ChannelsLast(deployed(m)),
                                              mode=compile_mode),
                      None, True))
    return [Case('levers', title, {n: convert(m) for n, m in nets.items()},
                 (3, size, size), tuple(batches), devices=devices,
                 memory=memory)
            for title, convert, devices, memory in forms]


TRAIN_CONFIGS = (('mobilenet-v2', 'configs/autonl/mobilenet-v2_in1k.py'),
                 ('mobilenet-v2-lightnl',
                  'configs/autonl/mobilenet-v2-lightnl_in1k.py'))
#: the search step against the largest published network it is meant to
#: find (issue 10: within 2.5x of AutoNL-L)
SEARCH_CONFIGS = (('autonl-l', 'configs/autonl/autonl-l_in1k.py'),
                  ('search supernet', 'configs/autonl/autonl_search_in1k.py'))
#: the paper's search: 8 epochs of ImageNet (1,281,167 training images)
SEARCH_IMAGES = 8 * 1281167
SEARCH_TARGET = 2.5


def train_forms(device):
    """(name, autocast dtype or None, channels_last) of the training-step
    group: fp32 NCHW (MMEngine without --amp), and on CUDA MMEngine's
    --amp (fp16, NCHW) and ours (bf16, or fp16 without bf16, +
    channels-last: ``tools/train.py --amp``)."""
    forms = [('fp32', None, False), ('fp32 channels-last', None, True)]
    if torch.device(device).type == 'cuda':
        half = (torch.bfloat16 if torch.cuda.is_bf16_supported() else
                torch.float16)
        forms += [('fp16 autocast (mmengine --amp)', torch.float16, False),
                  (f'{str(half)[6:]} autocast + channels-last (--amp)',
                   half, True)]
    return forms


def measure_train_steps(batch, device='cpu', repeats=5, warmup=2,
                        size=224, configs=TRAIN_CONFIGS, group='train'):
    """Seconds per training step (forward, loss, backward, SGD step) of
    the classifiers of ``configs`` ((name, config) pairs, the first the
    reference), interleaved per form. A search classifier runs with its
    cost term on (no runner: the warm-up counts as over), so its first
    warm-up step calibrates the gates and every timed step is a search
    step.

    Returns:
        list[dict]: one result per form, like :func:`measure_case`'s, with
        ``images_per_s`` in each model row (peak memory not measured).
    """
    from mmpretrain.structures import DataSample
    device = torch.device(device)
    results = []
    for form, dtype, channels_last in train_forms(device):
        torch.manual_seed(0)
        x = torch.randn(batch, 3, size, size, device=device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        samples = [DataSample().set_gt_label(i % 1000) for i in range(batch)]
        models, optims = {}, {}
        for name, config in configs:
            model = build_model_from_config(osp.join(ROOT, config)).to(device)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            models[name] = model.train()
            optims[name] = torch.optim.SGD(model.parameters(), lr=1e-4,
                                           momentum=0.9)

        def step(name):
            with torch.autocast(device.type, dtype=dtype,
                                enabled=dtype is not None):
                loss = sum(models[name](x, samples, mode='loss').values())
            loss.backward()
            optims[name].step()
            optims[name].zero_grad(set_to_none=True)

        names = list(models)
        for name in names:
            for _ in range(max(1, warmup)):
                time_per_call(lambda: step(name), device)
        times = {n: [] for n in names}
        for i in range(repeats):
            order = names[i % len(names):] + names[:i % len(names)]
            for name in order:
                times[name].append(time_per_call(lambda: step(name),
                                                 device) * 1e3)
        ref = statistics.median(times[names[0]])
        rows = [dict(name=n, median_ms=statistics.median(times[n]),
                     min_ms=min(times[n]), times_ms=times[n], inner=1,
                     ratio=paired_ratio(times[n], times[names[0]]),
                     ratio_of_medians=statistics.median(times[n]) / ref,
                     images_per_s=batch * 1e3 / statistics.median(times[n]),
                     peak_mb=None, mem_ratio=None) for n in names]
        results.append(dict(group=group, case=form, batch=batch,
                            device=device.type, reference=names[0],
                            repeats=repeats, models=rows))
        del models, optims
    return results


def print_train_table(results):
    head = (f'    {"form":44s} {"model":22s} {"dev":4s} {"batch":>5s} '
            f'{"ms/step":>9s} {"img/s":>8s} {"ratio":>6s}')
    print(head)
    print('    ' + '-' * (len(head) - 4))
    for res in results:
        for row in res['models']:
            print(f'    {res["case"]:44s} {row["name"]:22s} '
                  f'{res["device"]:4s} {res["batch"]:5d} '
                  f'{row["median_ms"]:9.1f} {row["images_per_s"]:8.1f} '
                  f'{row["ratio"]:6.3f}')


def print_search_projection(results):
    """The paper's search (8 ImageNet epochs) at the measured throughput
    of the supernet, per form, in hours of this device."""
    for res in results:
        row = next(r for r in res['models']
                   if r['name'] != res['reference'])
        hours = SEARCH_IMAGES / row['images_per_s'] / 3600
        print(f'    {res["case"]}: search step {row["ratio"]:.2f}x the '
              f'{res["reference"]} step; the 8-epoch ImageNet search at '
              f'{row["images_per_s"]:.1f} img/s: {hours:,.0f} h on one '
              f'{res["device"]} device (paper: 32 GPU-hours)')


BUILDERS = {'lightnl': lightnl_cases, 'mobilenet': mobilenet_cases,
            'levers': lever_cases, 'autonl': autonl_cases,
            'deeplab': deeplab_cases}


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------
def _timed(model, x, device, inner):
    """Seconds per forward over ``inner`` forwards."""
    return time_per_call(lambda: model(x), device, inner)


@contextmanager
def _quiet_stderr():
    """Silence the profiler's C++ start/stop lines on file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, 'w') as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _cpu_peak_bytes(prof):
    """Replay the profiler's CPU allocation events: max live bytes."""
    try:  # every allocation and free, intra-op temporaries included
        from torch._C._profiler import _EventType
        stack = list(prof.profiler.kineto_results.experimental_event_tree())
        allocs = []
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if (node.tag == _EventType.Allocation
                    and node.extra_fields.device.type == 'cpu'):
                allocs.append((node.start_time_ns,
                               node.extra_fields.alloc_size))
    except (ImportError, AttributeError):  # public API: net bytes per op
        allocs = [(e.time_range.start, e.self_cpu_memory_usage)
                  for e in prof.events() if e.self_cpu_memory_usage]
    live = peak = 0
    for _, size in sorted(allocs, key=lambda a: a[0]):
        live += size
        peak = max(peak, live)
    return peak


def peak_memory(model, x, device):
    """Bytes that one forward allocates beyond what existed before it."""
    if device.type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        model(x)
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile
    with _quiet_stderr():
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            model(x)
        return _cpu_peak_bytes(prof)


def paired_ratio(times, reference_times):
    """Median over repeats of ``times[i] / reference_times[i]`` (both timed
    in repeat i, interleaved)."""
    return statistics.median(t / r for t, r in zip(times, reference_times))


def measure_case(case, batch, device='cpu', repeats=5, warmup=1,
                 memory=True):
    """Time the models of ``case`` interleaved at one batch size.

    Returns:
        dict: ``group``, ``case``, ``batch``, ``device``, ``reference``,
        ``repeats``, and ``models``: one dict per model (reference first)
        with ``name``, ``median_ms``, ``min_ms``, ``times_ms``, ``inner``
        (forwards per timed run), ``ratio`` (:func:`paired_ratio` to the
        reference), ``ratio_of_medians``, ``peak_mb`` and ``mem_ratio``
        (None when ``memory`` is False).
    """
    device = torch.device(device)
    torch.manual_seed(0)
    x = torch.randn(batch, *case.shape, device=device)
    names = list(case.models)
    models = [case.models[n].to(device) for n in names]
    for model in models:
        model.eval()  # not chained: some train() overrides return None
    times = {n: [] for n in names}
    inner = {}
    with torch.inference_mode():
        for name, model in zip(names, models):
            once = float('inf')
            for _ in range(max(1, warmup)):
                once = min(once, _timed(model, x, device, 1))
            inner[name] = max(1, min(1000, math.ceil(MIN_RUN_S / once)))
        for i in range(repeats):
            k = i % len(names)  # rotate who goes first
            for name, model in list(zip(names, models))[k:] + list(
                    zip(names, models))[:k]:
                times[name].append(_timed(model, x, device, inner[name]))
        peaks = {n: peak_memory(m, x, device) if memory else None
                 for n, m in zip(names, models)}
    ref = names[0]
    times_ms = {n: [t * 1e3 for t in times[n]] for n in names}
    ref_median = statistics.median(times_ms[ref])
    rows = []
    for name in names:
        median = statistics.median(times_ms[name])
        peak = peaks[name]
        rows.append(dict(
            name=name, median_ms=median, min_ms=min(times_ms[name]),
            times_ms=times_ms[name], inner=inner[name],
            ratio=paired_ratio(times_ms[name], times_ms[ref]),
            ratio_of_medians=median / ref_median,
            peak_mb=None if peak is None else peak / 2**20,
            mem_ratio=(None if peak is None or not peaks[ref] else
                       peak / peaks[ref])))
    for model in models:  # leave big models' weights off the GPU
        model.cpu()
    return dict(group=case.group, case=case.title, batch=batch,
                device=device.type, reference=ref, repeats=repeats,
                models=rows)


def retain_freed_memory():
    """Make glibc keep freed memory (no mmap'd chunks, no trimming), so that
    buffers are reused without page faults. Returns False where not glibc."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    return bool(mallopt(m_mmap_max, 0)) and bool(
        mallopt(m_trim_threshold, 2**31 - 1))


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def load_average():
    try:
        return '{:.2f} {:.2f} {:.2f}'.format(*os.getloadavg())
    except OSError:
        return 'n/a'


def environment():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    env = dict(torch=torch.__version__, python=platform.python_version(),
               cpu=cpu, cpu_count=os.cpu_count(),
               torch_threads=torch.get_num_threads(),
               cuda=torch.cuda.get_device_name(0)
               if torch.cuda.is_available() else None)
    try:
        import mmcv
        import mmengine
        import mmpretrain
        import mmseg
        env.update(mmcv=mmcv.__version__, mmengine=mmengine.__version__,
                   mmpretrain=mmpretrain.__version__,
                   mmseg=mmseg.__version__)
    except ImportError:
        pass
    return env


def print_table(case, results):
    print(f'\n  {case.title}')
    for line in case.settings:
        print(f'    {line}')
    head = (f'    {"model":24s} {"dev":4s} {"batch":>5s} {"median ms":>10s} '
            f'{"min ms":>9s} {"ratio":>7s} {"peak MB":>9s} {"mem ratio":>9s}')
    print(head)
    print('    ' + '-' * (len(head) - 4))
    for res in results:
        for row in res['models']:
            peak = '-' if row['peak_mb'] is None else f'{row["peak_mb"]:.1f}'
            mem = '-' if row['mem_ratio'] is None else (
                f'{row["mem_ratio"]:.3g}')
            print(f'    {row["name"]:24s} {res["device"]:4s} '
                  f'{res["batch"]:5d} {row["median_ms"]:10.3f} '
                  f'{row["min_ms"]:9.3f} {row["ratio"]:7.3g} {peak:>9s} '
                  f'{mem:>9s}')


def _find(results, group, name, device='cpu', case=None):
    return {r['batch']: row for r in results
            if r['group'] == group and r['device'] == device
            and (case is None or r['case'] == case)
            for row in r['models'] if row['name'] == name}


def targets(results):
    """The two targets, as (label, passed or None, detail) tuples."""
    out = []
    mnv2 = _find(results, 'mobilenet', 'mobilenet-v2-lightnl')
    label = (f'MobileNetV2-LightNL within {MOBILENET_TARGET:.2f}x of '
             f'MobileNetV2 (CPU latency)')
    if mnv2:
        for batch, row in sorted(mnv2.items()):
            out.append((f'{label}, batch {batch}',
                        row['ratio'] <= MOBILENET_TARGET,
                        f'{row["ratio"]:.3f}x'))
    else:
        out.append((label, None, 'not measured'))
    forms = [r['case'] for r in results
             if r['group'] == 'levers' and r['device'] == 'cpu']
    for form in dict.fromkeys(forms):
        rows = _find(results, 'levers', 'mobilenet-v2-lightnl', case=form)
        for batch, row in sorted(rows.items()):
            out.append((f'{label}, {form}, batch {batch}',
                        row['ratio'] <= MOBILENET_TARGET,
                        f'{row["ratio"]:.3f}x'))
    light = _find(results, 'lightnl', f'LightNL r={CHANNEL_RATIO:g} s=2',
                  case='56x56x24')
    label = (f'LightNL at least {LIGHT_NL_TARGET:g}x faster than NonLocal2d'
             ' at 56x56x24 (CPU)')
    if light:
        for batch, row in sorted(light.items()):
            speedup = 1 / row['ratio']
            out.append((f'{label}, batch {batch}',
                        speedup >= LIGHT_NL_TARGET, f'{speedup:.1f}x faster'))
    else:
        out.append((label, None, 'not measured'))
    for res in results:
        if res['group'] != 'search':
            continue
        row = next(r for r in res['models'] if r['name'] != res['reference'])
        out.append((f'search step within {SEARCH_TARGET:g}x of the AutoNL-L '
                    f'step, {res["case"]}, {res["device"]}, batch '
                    f'{res["batch"]}', row['ratio'] <= SEARCH_TARGET,
                    f'{row["ratio"]:.2f}x'))
    return out


def run_benchmark(groups=DEFAULT_GROUPS, devices=('cpu', ), batches=(1, 8),
                  seg_batches=(1, 2), repeats=None, warmup=None,
                  verbose=True, train_batches=(8, ), compile_mode=None):
    """Build and measure the groups; return the list of result dicts."""
    from autonl_mmseg.engine import progress_bar
    results = []
    with progress_bar(disable=not verbose) as bar:
        for group in groups:
            group_batches = {'deeplab': seg_batches, 'train': train_batches,
                             'search': train_batches}.get(group, batches)
            n_repeats = DEFAULT_RUNS[group][0] if repeats is None else repeats
            n_warmup = DEFAULT_RUNS[group][1] if warmup is None else warmup
            if verbose:
                print(f'\n{TITLES[group]}  [{n_repeats} timed runs after '
                      f'{n_warmup} warm-up, median]', flush=True)
            if group in ('train', 'search'):
                configs = TRAIN_CONFIGS if group == 'train' else \
                    SEARCH_CONFIGS
                for device in devices:
                    for batch in group_batches:
                        with warnings.catch_warnings():
                            warnings.simplefilter('ignore')
                            train = measure_train_steps(
                                batch, device, n_repeats, n_warmup,
                                configs=configs, group=group)
                        results.extend(train)
                        if verbose:
                            print_train_table(train)
                            if group == 'search':
                                print_search_projection(train)
                continue
            with warnings.catch_warnings():  # deprecation notes of builders
                warnings.simplefilter('ignore')
                builder = BUILDERS[group]
                cases = (builder(batches=group_batches,
                                 compile_mode=compile_mode)
                         if group == 'levers' else
                         builder(batches=group_batches))
            task = bar.add_task(
                group, total=len(devices) * sum(len(c.batches)
                                                for c in cases))
            for case in cases:
                case_results = []
                for device in devices:
                    if case.devices is not None and \
                            device not in case.devices:
                        continue
                    for batch in case.batches:
                        case_results.append(measure_case(
                            case, batch, device, n_repeats, n_warmup,
                            memory=case.memory))
                        bar.advance(task)
                results.extend(case_results)
                if verbose and case_results:
                    print_table(case, case_results)
                    sys.stdout.flush()
            bar.remove_task(task)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Latency and peak memory, side by side')
    parser.add_argument('--device', default='all',
                        choices=['cpu', 'cuda', 'all'],
                        help="'all': CPU, and CUDA when present")
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed runs per model (default per group: '
                        + ', '.join(f'{g} {r}'
                                    for g, (r, _) in DEFAULT_RUNS.items())
                        + ')')
    parser.add_argument('--warmup', type=int, default=None,
                        help='warm-up runs per model (default per group: '
                        + ', '.join(f'{g} {w}'
                                    for g, (_, w) in DEFAULT_RUNS.items())
                        + '); 0 still makes the one call that sizes the '
                        'timed runs')
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8],
                        help='batch sizes of groups 1-3')
    parser.add_argument('--seg-batch', type=int, nargs='+', default=[1, 2],
                        help='batch sizes of the 512x512 DeepLabV3 group')
    parser.add_argument('--only', nargs='+', choices=GROUPS, default=None,
                        help='run only these groups')
    parser.add_argument('--train-batch', type=int, nargs='+', default=[8],
                        help='batch sizes of the training-step group '
                        '(--only train; e.g. 256 on a GPU)')
    parser.add_argument('--compile', default=None, metavar='MODE',
                        choices=['default', 'reduce-overhead',
                                 'max-autotune'],
                        help='add a torch.compile(mode=MODE) form to the '
                        'levers group (compiles for minutes)')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--markdown', default=None, metavar='FILE',
                        help='also write the command, the machine and '
                        'everything printed as a Markdown section to FILE '
                        '(e.g. to paste into docs/benchmark.md)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: leave as is)')
    parser.add_argument('--retain-freed-memory', action='store_true',
                        help='glibc keeps freed memory: no page faults in '
                        'the timed runs (see the module docstring)')
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    if args.repeats is not None and args.repeats < 1:
        parser.error('--repeats must be >= 1')
    if args.warmup is not None and args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if min(args.batch + args.seg_batch + args.train_batch) < 1:
        parser.error('batch sizes must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


class _Tee:
    """Write to the console and keep a copy (``--markdown``)."""

    def __init__(self, stream):
        self.stream, self.lines = stream, []

    def write(self, text):
        self.lines.append(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def main(argv=None):
    args = parse_args(argv)
    if args.markdown:
        tee = sys.stdout = _Tee(sys.stdout)
        try:
            return _main(args)
        finally:
            sys.stdout = tee.stream
            command = ' '.join(['python tools/analysis_tools/benchmark.py'] +
                               list(sys.argv[1:] if argv is None else argv))
            with open(args.markdown, 'w') as f:
                f.write(f'### `{command}`\n\n```\n{"".join(tee.lines)}'
                        '```\n')
            print(f'Markdown written to {args.markdown}')
    return _main(args)


def _main(args):
    devices = (['cpu', 'cuda'] if args.device == 'all' else [args.device])
    devices = [d for d in devices if d == 'cpu' or torch.cuda.is_available()]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    retained = args.retain_freed_memory and retain_freed_memory()
    if args.retain_freed_memory and not retained:
        print('warning: --retain-freed-memory needs glibc; ignored')
    env = environment()
    env.update(load_average_start=load_average(),
               retain_freed_memory=retained)
    print('Environment: ' + ', '.join(
        f'{k} {v}' for k, v in env.items()
        if k not in ('torch_threads', 'load_average_start',
                     'retain_freed_memory') and v is not None))
    threads = ('set by --threads' if args.threads is not None else
               'default, not changed')
    print(f'torch.get_num_threads() = {env["torch_threads"]} ({threads}); '
          f'devices: {", ".join(devices)}; load average (1/5/15 min) '
          f'{env["load_average_start"]}; freed memory '
          f'{"retained (no page faults)" if retained else "glibc default"}')
    if hasattr(os, 'getloadavg') and (os.getloadavg()[0] >
                                      0.5 * (os.cpu_count() or 1)):
        print('warning: other jobs are running; small ops (LightNL) suffer '
              'most, as the OpenMP threads wait for CPU time at every op')
    start = time.perf_counter()
    groups = [g for g in GROUPS if (g in DEFAULT_GROUPS if args.only is None
                                    else g in args.only)]
    results = run_benchmark(groups, devices, tuple(args.batch),
                            tuple(args.seg_batch), args.repeats, args.warmup,
                            train_batches=tuple(args.train_batch),
                            compile_mode=args.compile)
    print('\nTargets')
    checks = targets(results)
    for label, passed, detail in checks:
        verdict = '-' if passed is None else ('PASS' if passed else 'MISS')
        print(f'  [{verdict:4s}] {label}: {detail}')
    elapsed = time.perf_counter() - start
    env['load_average_end'] = load_average()
    print(f'\nTotal time: {elapsed:.0f} s; load average at the end '
          f'{env["load_average_end"]}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(environment=env, results=results,
                           targets=[dict(target=label, passed=passed,
                                         value=detail)
                                    for label, passed, detail in checks],
                           seconds=elapsed), f, indent=1)
        print(f'results written to {args.json}')


if __name__ == '__main__':
    from autonl_mmseg.engine.cli import run_cli
    run_cli(main)
