#!/usr/bin/python3
"""Export torchvision models to ONNX, the way people have them: PyTorch's exporter at a chosen
opset, random weights (agreement with onnxruntime does not need trained ones; nothing is
downloaded), fixed input size, batch as a symbolic dimension.

Runs on Debian's own Python (/usr/bin/python3, not a pyenv or venv one) with python3-torch,
python3-torchvision and python3-onnx (the exporter's checks):
  apt-get install -y python3-torch python3-torchvision python3-onnx
Usage:
  /usr/bin/python3 scripts/export-torchvision.py [--opset 13] [--size 224] [--out .cache/torchvision] [MODEL ...]
Writes OUT/<model>-opset<N>.onnx and skips files that already exist. MODEL is a torchvision
constructor name (resnet50, mobilenet_v2, efficientnet_b0, ...); none: the default list.
"""
import argparse
import os
import sys

DEFAULT = ['resnet50', 'mobilenet_v2', 'mobilenet_v3_large', 'efficientnet_b0', 'densenet121',
           'squeezenet1_0', 'shufflenet_v2_x1_0', 'alexnet', 'vgg11', 'convnext_tiny']


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('models', nargs='*', default=DEFAULT)
    ap.add_argument('--opset', type=int, default=13)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--out', default='.cache/torchvision')
    args = ap.parse_args()
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f'export-torchvision: {e}; install python3-torch and python3-torchvision', file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name in args.models:
        path = os.path.join(args.out, f'{name}-opset{args.opset}.onnx')
        if os.path.exists(path):
            print(f'{path} exists')
            continue
        ctor = getattr(torchvision.models, name, None)
        if ctor is None:
            print(f'export-torchvision: torchvision {torchvision.__version__} has no model {name!r}', file=sys.stderr)
            return 2
        model = ctor(weights=None).eval()
        x = torch.randn(1, 3, args.size, args.size)
        tmp = path + '.part'
        torch.onnx.export(model, x, tmp, opset_version=args.opset, input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
        os.replace(tmp, path)  # never leave half a file under the final name
        print(f'wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
