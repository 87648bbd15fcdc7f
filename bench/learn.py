"""scikit-learn's side of bench/learn.sh: 5-fold out-of-sample probabilities of a logistic
regression on the Fashion-MNIST training set, as cleanlab's documentation computes them.

    python3 bench/learn.py [DATA_DIR]

Prints one line of `key=value` pairs: `read_seconds`, `oos_seconds` (the `cross_val_predict` call
alone) and `accuracy` (of the out-of-sample argmax against the labels).
"""
import gzip
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

data = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"

start = time.perf_counter()
with gzip.open(f"{data}/train-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28 * 28)
with gzip.open(f"{data}/train-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
X = images / 255.0
read = time.perf_counter() - start

# max_iter=100 is scikit-learn's default; it stops there before converging on this data.
warnings.simplefilter("ignore", ConvergenceWarning)
start = time.perf_counter()
probabilities = cross_val_predict(
    LogisticRegression(max_iter=100), X, labels, cv=5, method="predict_proba"
)
oos = time.perf_counter() - start
accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
print(
    f"records={len(labels)} features={X.shape[1]} folds=5 read_seconds={read:.3f} "
    f"oos_seconds={oos:.3f} accuracy={accuracy:.4f}"
)
