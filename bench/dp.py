"""Opacus' side of bench/dp.sh: DP-SGD and plain SGD of the same model on the same data.

    python3 bench/dp.py RECORDS EPOCHS [HIDDEN]

The model is antidote's: `nn.Linear(784, 10)` (logistic regression) or `Linear, ReLU, ...,
Linear` with the HIDDEN widths (comma-separated), on the first RECORDS Fashion-MNIST training
images, pixels / 255; Poisson sampling with expected batches of 256 (Opacus'
`poisson_sampling=True`), clipping at 1, noise multiplier 1, SGD with momentum 0.9 and learning
rate 0.5 (logistic) or 0.05 (MLP), EPOCHS epochs; the plain run is the same model with a shuffled
`DataLoader` of batches of 256 and no privacy engine. Torch runs on the CPU with its default
threads. Prints one line of `key=value` pairs: `private_seconds`, `plain_seconds`,
`private_accuracy`, `plain_accuracy`, `epsilon` (Opacus' RDP accountant at delta 1e-5).
"""
import gzip
import sys
import time
import warnings

import numpy as np
import torch
from opacus import PrivacyEngine
from torch import nn

warnings.simplefilter("ignore")
data = "/usr/share/datasets/fashion-mnist"
records, epochs = int(sys.argv[1]), int(sys.argv[2])
hidden = [int(w) for w in sys.argv[3].split(",")] if len(sys.argv) > 3 and sys.argv[3] else []


def read(images, labels, limit):
    with gzip.open(f"{data}/{images}") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)[:limit]
    with gzip.open(f"{data}/{labels}") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:limit]
    return torch.tensor(x / 255.0, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


x, y = read("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", records)
x_test, y_test = read("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000)
dataset = torch.utils.data.TensorDataset(x, y)


def model():
    torch.manual_seed(0)
    widths = [784, *hidden, 10]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def run(private):
    network = model()
    optimizer = torch.optim.SGD(network.parameters(), lr=0.5 if not hidden else 0.05, momentum=0.9)
    loader = torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=True)
    epsilon = float("nan")
    if private:
        engine = PrivacyEngine(accountant="rdp")
        network, optimizer, loader = engine.make_private(
            module=network,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=1.0,
            max_grad_norm=1.0,
            poisson_sampling=True,
        )
    loss_function = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        for batch_x, batch_y in loader:
            if len(batch_y) == 0:
                continue
            optimizer.zero_grad()
            loss_function(network(batch_x), batch_y).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    if private:
        epsilon = engine.get_epsilon(1e-5)
    with torch.no_grad():
        accuracy = (network(x_test).argmax(1) == y_test).float().mean().item()
    return seconds, accuracy, epsilon


plain_seconds, plain_accuracy, _ = run(False)
private_seconds, private_accuracy, epsilon = run(True)
print(
    f"private_seconds={private_seconds:.3f} plain_seconds={plain_seconds:.3f} "
    f"private_accuracy={private_accuracy:.4f} plain_accuracy={plain_accuracy:.4f} epsilon={epsilon:.3f}"
)
