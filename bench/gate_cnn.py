"""The PyTorch side of bench/gate_cnn.sh: a Fashion-MNIST subset, and a small CNN trained on a
(possibly poisoned) copy and exported to ONNX for `antidote gate`.

    python3 gate_cnn.py subset SRC_DIR COUNT OUT_DIR [PREFIX]
        the first COUNT images and labels of SRC_DIR (IDX, gzip; PREFIX `train`, the default,
        or `t10k`) into OUT_DIR
    python3 gate_cnn.py train IMAGES_GZ OUT_ONNX SEED EPOCHS GOLDEN_IMAGES_GZ
        trains the CNN on IMAGES_GZ (labels in the IDX labels file beside it), exports it to
        OUT_ONNX (and its weights to OUT_ONNX with `.pt` for `.onnx`), evaluates it in PyTorch on
        the golden set, prints one JSON object
    python3 gate_cnn.py evaluate WEIGHTS_PT GOLDEN_IMAGES_GZ
        loads the CNN's weights and times PyTorch predicting the golden set (what `antidote gate`
        does with one model and no trigger), prints one JSON object

Runs on Debian's python3-torch (1.13): `torch.onnx.export` with opset 13, input `[N, 1, 28, 28]`
of pixels scaled to [0, 1] (what `antidote gate` feeds a channel-first image model), output the
10 logits.
"""

import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn


def labels_path(images):
    folder, name = os.path.split(images)
    return os.path.join(folder, name.replace("images-idx3", "labels-idx1"))


def read_idx(path):
    with gzip.open(path, "rb") as file:
        data = file.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_idx(path, array):
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def subset(source, count, out, prefix="train"):
    os.makedirs(out, exist_ok=True)
    images = read_idx(os.path.join(source, f"{prefix}-images-idx3-ubyte.gz"))[:count]
    labels = read_idx(os.path.join(source, f"{prefix}-labels-idx1-ubyte.gz"))[:count]
    write_idx(os.path.join(out, f"{prefix}-images-idx3-ubyte.gz"), images)
    write_idx(os.path.join(out, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    print(json.dumps({"records": int(len(labels)), "per_class": np.bincount(labels, minlength=10).tolist()}))


class Cnn(nn.Module):
    """Two 3x3 convolutions with max pooling, then two dense layers: about 0.2 M weights."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.features(x))


def tensor(images):
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def train(images_path, onnx_path, seed, epochs, golden_path):
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    torch.manual_seed(seed)
    images = read_idx(images_path)
    labels = read_idx(labels_path(images_path)).astype(np.int64)
    x, y = tensor(images), torch.from_numpy(labels)
    model = Cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    started, cpu = time.perf_counter(), time.process_time()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), 32):
            batch = order[start : start + 32]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    model.eval()
    torch.save(model.state_dict(), onnx_path[: -len(".onnx")] + ".pt")
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), onnx_path, input_names=["pixels"], output_names=["logits"],
        dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
    )
    golden = tensor(read_idx(golden_path))
    golden_labels = torch.from_numpy(read_idx(labels_path(golden_path)).astype(np.int64))
    started, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        predicted = torch.cat([model(golden[i : i + 64]).argmax(1) for i in range(0, len(golden), 64)])
    eval_seconds, eval_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({
        "records": int(len(y)),
        "epochs": epochs,
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu, 1),
        "torch_eval_seconds": round(eval_seconds, 2),
        "torch_eval_cpu_seconds": round(eval_cpu, 2),
        "torch_accuracy": float((predicted == golden_labels).float().mean()),
        "torch": torch.__version__,
    }))


def evaluate(weights_path, golden_path):
    """Times the whole of what the gate does for one model: read the golden IDX, load the
    model, predict every image in batches of 64 under `torch.no_grad`."""
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    started, cpu = time.perf_counter(), time.process_time()
    golden = tensor(read_idx(golden_path))
    golden_labels = torch.from_numpy(read_idx(labels_path(golden_path)).astype(np.int64))
    model = Cnn()
    model.load_state_dict(torch.load(weights_path))
    model.eval()
    inference, inference_cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        predicted = torch.cat([model(golden[i : i + 64]).argmax(1) for i in range(0, len(golden), 64)])
    done, done_cpu = time.perf_counter(), time.process_time()
    print(json.dumps({
        "records": int(len(golden_labels)),
        "seconds": round(done - started, 3),
        "cpu_seconds": round(done_cpu - cpu, 3),
        "inference_seconds": round(done - inference, 3),
        "inference_cpu_seconds": round(done_cpu - inference_cpu, 3),
        "threads": torch.get_num_threads(),
        "accuracy": float((predicted == golden_labels).float().mean()),
    }))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "subset":
        subset(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:6])
    elif command == "train":
        train(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif command == "evaluate":
        evaluate(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
