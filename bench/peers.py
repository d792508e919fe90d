"""Peers for bench/trainers.ts: XGBoost and scikit-learn on the files the bench writes.

Run by the bench as /usr/bin/python3 (Debian's python3-xgboost and python3-sklearn); prints one
JSON object on stdout. Not meant to be run by hand, but it can be:

  python3 bench/peers.py check
  python3 bench/peers.py fit <json job>
  python3 bench/peers.py datasets <out dir>
"""
import json
import resource
import sys
import time


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def check():
    found = {}
    for name in ("numpy", "sklearn", "xgboost"):
        try:
            module = __import__(name)
            found[name] = getattr(module, "__version__", "?")
        except Exception:  # noqa: BLE001 - a missing peer is reported, not fatal
            found[name] = None
    print(json.dumps(found))


def load(job):
    import numpy as np

    f = job["features"]
    x = np.fromfile(job["x"], dtype=np.float32).reshape(-1, f)
    y = np.fromfile(job["y"], dtype=np.float32)
    xt = np.fromfile(job["xTest"], dtype=np.float32).reshape(-1, f)
    yt = np.fromfile(job["yTest"], dtype=np.float32)
    return x, y, xt, yt


def metrics(task, classes, yt, predicted):
    import numpy as np
    from sklearn import metrics as m

    if task == "regression":
        return {
            "rmse": float(np.sqrt(m.mean_squared_error(yt, predicted))),
            "mae": float(m.mean_absolute_error(yt, predicted)),
            "r2": float(m.r2_score(yt, predicted)),
        }
    p = np.clip(predicted, 1e-15, 1 - 1e-15)
    out = {
        "accuracy": float(m.accuracy_score(yt, p.argmax(axis=1))),
        "logloss": float(m.log_loss(yt, p, labels=list(range(classes)))),
        "f1": float(m.f1_score(yt, p.argmax(axis=1), average="macro")),
    }
    if classes == 2:
        out["auc"] = float(m.roc_auc_score(yt, p[:, 1]))
    return out


def fit(job):
    """One peer on one case; the time covers what the modelloop side's time covers: data in, model out."""
    x, y, xt, yt = load(job)
    task, classes, peer, p = job["task"], job.get("classes", 0), job["peer"], job["params"]
    before = rss_mib()
    started = time.perf_counter()
    if peer == "xgboost":
        import xgboost as xgb

        params = {
            "tree_method": "hist",
            "grow_policy": "lossguide",
            "max_leaves": p["maxLeaves"],
            "max_depth": 0,
            "eta": p["learningRate"],
            "max_bin": p["maxBins"],
            "lambda": p["l2"],
            "nthread": 2,
            "seed": 0,
        }
        if task == "regression":
            params["objective"] = "reg:squarederror"
        elif classes == 2:
            params["objective"] = "binary:logistic"
        else:
            params.update({"objective": "multi:softprob", "num_class": classes})
        train = xgb.DMatrix(x, label=y, nthread=2)
        model = xgb.train(params, train, num_boost_round=p["rounds"])
        elapsed = time.perf_counter() - started
        out = model.predict(xgb.DMatrix(xt, nthread=2))
        predicted = out if task == "regression" else (np.column_stack([1 - out, out]) if classes == 2 else out)
    elif peer == "sklearn-hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        kind = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
        model = kind(
            max_iter=p["rounds"],
            learning_rate=p["learningRate"],
            max_leaf_nodes=p["maxLeaves"],
            min_samples_leaf=p["minSamplesLeaf"],
            l2_regularization=p["l2"],
            max_bins=p["maxBins"],
            early_stopping=False,
            random_state=0,
        )
        model.fit(x, y)
        elapsed = time.perf_counter() - started
        predicted = model.predict(xt) if task == "regression" else model.predict_proba(xt)
    elif peer == "sklearn-logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        from sklearn.pipeline import make_pipeline

        # C = 1 / l2 on standardised features: the objective modelloop's logistic regression minimises.
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0 / p["l2"], solver="lbfgs", max_iter=1000))
        model.fit(x, y)
        elapsed = time.perf_counter() - started
        predicted = model.predict_proba(xt)
    elif peer == "sklearn-ridge":
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler
        from sklearn.pipeline import make_pipeline

        model = make_pipeline(StandardScaler(), Ridge(alpha=p["l2"]))
        model.fit(x, y)
        elapsed = time.perf_counter() - started
        predicted = model.predict(xt)
    else:
        raise SystemExit(f"unknown peer {peer}")
    print(json.dumps({
        "seconds": elapsed,
        "peakMiB": rss_mib(),
        "growthMiB": rss_mib() - before,
        "metrics": metrics(task, classes, yt, np.asarray(predicted, dtype=np.float64)),
    }))


def datasets(out_dir):
    """Writes the public data sets that ship inside python3-sklearn as CSV files (no download)."""
    import os
    from sklearn import datasets as d

    loaders = {
        "breast-cancer": (d.load_breast_cancer, "classification"),
        "iris": (d.load_iris, "classification"),
        "wine": (d.load_wine, "classification"),
        "digits": (d.load_digits, "classification"),
        "diabetes": (d.load_diabetes, "regression"),
    }
    written = []
    for name, (loader, task) in loaders.items():
        bunch = loader()
        names = [str(c).replace(" ", "_") for c in getattr(bunch, "feature_names", [])]
        if len(names) != bunch.data.shape[1]:
            names = [f"x{j}" for j in range(bunch.data.shape[1])]
        target = "target"
        path = os.path.join(out_dir, f"{name}.csv")
        with open(path, "w") as out:
            out.write(",".join(names + [target]) + "\n")
            for row, label in zip(bunch.data, bunch.target):
                value = f"c{int(label)}" if task == "classification" else repr(float(label))
                out.write(",".join(repr(float(v)) for v in row) + "," + value + "\n")
        written.append({"name": name, "task": task, "target": target, "path": path, "rows": int(bunch.data.shape[0])})
    print(json.dumps(written))


def compare(job):
    """scikit-learn default models on the bench's split of one data set; the test metric of each."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with open(job["path"]) as f:
        f.readline()
        rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
    x = np.array([[float(v) for v in r[:-1]] for r in rows])
    y = np.array([r[-1] for r in rows])
    train, test = np.array(job["train"]), np.array(job["test"])
    if job["task"] == "classification":
        labels = sorted(set(y))
        y = np.array([labels.index(v) for v in y])
        models = {
            "HistGradientBoostingClassifier": HistGradientBoostingClassifier(random_state=0),
            "RandomForestClassifier": RandomForestClassifier(random_state=0),
            "LogisticRegression (scaled)": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        }
    else:
        y = y.astype(np.float64)
        models = {
            "HistGradientBoostingRegressor": HistGradientBoostingRegressor(random_state=0),
            "RandomForestRegressor": RandomForestRegressor(random_state=0),
            "Ridge (scaled)": make_pipeline(StandardScaler(), Ridge()),
        }
    out = {}
    for name, model in models.items():
        model.fit(x[train], y[train])
        if job["task"] == "classification":
            predicted = model.predict_proba(x[test])
            out[name] = metrics("classification", len(labels), y[test], predicted)
        else:
            out[name] = metrics("regression", 0, y[test], model.predict(x[test]))
    print(json.dumps(out))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "check":
        check()
    elif command == "datasets":
        datasets(sys.argv[2])
    else:
        import numpy as np  # noqa: F401 - used by fit and compare

        job = json.loads(sys.argv[2])
        (fit if command == "fit" else compare)(job)
