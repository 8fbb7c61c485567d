#!/usr/bin/env python3
"""Train two small iris classifiers with scikit-learn and write them as ONNX.

Builds the ONNX graphs by hand with onnx.helper (skl2onnx is not needed).
Outputs (next to each other, under examples/src/main/resources/dev/predictgrpc/examples/iris/):

  iris.csv          the 150 iris rows as shipped with scikit-learn
  iris_gbt.onnx     GradientBoostingClassifier -> one ai.onnx.ml TreeEnsembleClassifier
  iris_logreg.onnx  LogisticRegression -> MatMul, Add, Softmax(axis=1), ArgMax

Both models: input  `features`      float32 [N, 4]
             output `label`         int64   [N]
             output `probabilities` float32 [N, 3]

Deterministic: fixed random_state, no timestamps in the files.
Run with Debian's python (python3-sklearn, python3-onnx):
  /usr/bin/python3 examples/scripts/make_iris_model.py
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(
    HERE, "..", "src", "main", "resources", "dev", "predictgrpc", "examples", "iris"))

IR_VERSION = 7       # ONNX 1.7+, loaded by ONNX Runtime >= 1.3
OPSET = 13           # default domain
ML_OPSET = 1         # ai.onnx.ml (TreeEnsembleClassifier v1)
N_FEATURES = 4
N_CLASSES = 3
PRODUCER = "predict-grpc examples/scripts/make_iris_model.py"


def io_values():
    inp = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", N_FEATURES])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    probs = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", N_CLASSES])
    return inp, label, probs


def finish(graph, opsets, doc):
    model = helper.make_model(graph, opset_imports=opsets, producer_name=PRODUCER,
                              producer_version="1", doc_string=doc)
    # predict-grpc's ONNX adapter names the Arrow columns of a [N, K] input after these.
    helper.set_model_props(model, {
        "predictgrpc.feature_names.features":
            "sepal_length,sepal_width,petal_length,petal_width",
    })
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------- data set
def write_csv(iris, path):
    with open(path, "w", newline="\n") as f:
        f.write("sepal_length,sepal_width,petal_length,petal_width,species\n")
        for row, y in zip(iris.data, iris.target):
            f.write(",".join("%.1f" % v for v in row) + ",%d\n" % y)


# ---------------------------------------------------------------- logistic regression
def build_logreg(clf):
    W = clf.coef_.T.astype(np.float32)           # [4, 3]
    b = clf.intercept_.astype(np.float32)        # [3]
    inp, label, probs = io_values()
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["logits"], name="add_bias"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
        # ArgMax already yields int64
        helper.make_node("ArgMax", ["logits"], ["label"], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "iris_logreg", [inp], [label, probs],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
    return finish(graph, [helper.make_opsetid("", OPSET)],
                  "scikit-learn LogisticRegression (multinomial) on Fisher's iris data")


# ---------------------------------------------------------------- gradient boosting
def build_gbt(clf):
    lr = clf.learning_rate
    # sklearn's init for multinomial deviance: DummyClassifier(strategy="prior"),
    # raw score = log(class prior) (clipped at float64 eps, as sklearn does).
    priors = clf.init_.class_prior_
    eps = np.finfo(np.float64).eps
    base_values = np.log(np.clip(priors, eps, 1 - eps))

    n_ids, n_node, n_feat, n_val, n_mode, n_true, n_false = [], [], [], [], [], [], []
    c_tree, c_node, c_cls, c_w = [], [], [], []
    tree_id = 0
    for i in range(clf.n_estimators_):
        for k in range(N_CLASSES):
            t = clf.estimators_[i, k].tree_
            for node in range(t.node_count):
                n_ids.append(tree_id)
                n_node.append(node)
                left, right = int(t.children_left[node]), int(t.children_right[node])
                if left == -1:  # leaf
                    n_feat.append(0)
                    n_val.append(0.0)
                    n_mode.append("LEAF")
                    n_true.append(0)
                    n_false.append(0)
                    c_tree.append(tree_id)
                    c_node.append(node)
                    c_cls.append(k)
                    c_w.append(float(lr * t.value[node][0][0]))
                else:           # sklearn: go left iff x[f] <= threshold
                    n_feat.append(int(t.feature[node]))
                    n_val.append(float(t.threshold[node]))
                    n_mode.append("BRANCH_LEQ")
                    n_true.append(left)
                    n_false.append(right)
            tree_id += 1

    inp, label, probs = io_values()
    node = helper.make_node(
        "TreeEnsembleClassifier", ["features"], ["label", "probabilities"],
        name="gbt", domain="ai.onnx.ml",
        nodes_treeids=n_ids, nodes_nodeids=n_node, nodes_featureids=n_feat,
        nodes_values=n_val, nodes_modes=n_mode,
        nodes_truenodeids=n_true, nodes_falsenodeids=n_false,
        nodes_missing_value_tracks_true=[0] * len(n_ids),
        class_treeids=c_tree, class_nodeids=c_node, class_ids=c_cls, class_weights=c_w,
        classlabels_int64s=list(range(N_CLASSES)),
        base_values=[float(v) for v in base_values],
        post_transform="SOFTMAX")
    graph = helper.make_graph([node], "iris_gbt", [inp], [label, probs])
    return finish(graph, [helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
                  "scikit-learn GradientBoostingClassifier on Fisher's iris data")


# ---------------------------------------------------------------- independent numpy re-evaluation
def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def numpy_eval(model, X):
    """Evaluate the serialized graph with numpy (only the ops used here)."""
    X = X.astype(np.float32)
    g = model.graph
    if len(g.node) == 1 and g.node[0].op_type == "TreeEnsembleClassifier":
        a = attrs(g.node[0])
        nodes = {}
        for j, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"])):
            nodes[(t, n)] = j
        leafw = {}
        for t, n, c, w in zip(a["class_treeids"], a["class_nodeids"], a["class_ids"], a["class_weights"]):
            leafw.setdefault((t, n), []).append((c, np.float32(w)))
        vals = np.float32(a["nodes_values"])
        raw = np.tile(np.float32(a["base_values"]), (len(X), 1))
        for r, x in enumerate(X):
            for t in sorted(set(a["nodes_treeids"])):
                n = 0
                while True:
                    j = nodes[(t, n)]
                    if a["nodes_modes"][j] == b"LEAF":
                        for c, w in leafw[(t, n)]:
                            raw[r, c] += w
                        break
                    f = a["nodes_featureids"][j]
                    n = a["nodes_truenodeids"][j] if x[f] <= vals[j] else a["nodes_falsenodeids"][j]
        p = softmax(raw.astype(np.float64))
        return p.argmax(axis=1), p
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    logits = X @ init["W"] + init["b"]
    return logits.argmax(axis=1), softmax(logits.astype(np.float64))


def reference_eval(model, X):
    """onnx.reference (onnx >= 1.13) or onnxruntime if installed; else None."""
    try:
        from onnx.reference import ReferenceEvaluator
        sess = ReferenceEvaluator(model)
        label, probs = sess.run(["label", "probabilities"], {"features": X.astype(np.float32)})
        return "onnx.reference", label, probs
    except Exception as e:  # ImportError on onnx 1.12, or op not implemented
        why = "onnx.reference unavailable (%s: %s)" % (type(e).__name__, e)
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        label, probs = sess.run(["label", "probabilities"], {"features": X.astype(np.float32)})
        return "onnxruntime", label, probs
    except Exception as e:
        why += "; onnxruntime unavailable (%s)" % type(e).__name__
    return why, None, None


def check(name, model, clf, X, y):
    sk_pred = clf.predict(X)
    sk_prob = clf.predict_proba(X)
    print("%s: sklearn train accuracy = %.4f" % (name, (sk_pred == y).mean()))
    lbl, prob = numpy_eval(model, X)
    print("%s: numpy re-evaluation of the ONNX graph: accuracy = %.4f, agreement with sklearn = %.4f, "
          "max |p - p_sklearn| = %.2e" % (name, (lbl == y).mean(), (lbl == sk_pred).mean(),
                                          np.abs(prob - sk_prob).max()))
    engine, lbl, prob = reference_eval(model, X)
    if lbl is None:
        print("%s: reference-evaluator check skipped: %s" % (name, engine))
    else:
        print("%s: %s: accuracy = %.4f, agreement with sklearn = %.4f, max |p - p_sklearn| = %.2e"
              % (name, engine, (lbl == y).mean(), (lbl == sk_pred).mean(), np.abs(prob - sk_prob).max()))


def save(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    print("wrote %s (%d bytes)" % (os.path.relpath(path), os.path.getsize(path)))


def main():
    import sklearn
    print("python %s, numpy %s, scikit-learn %s, onnx %s"
          % (sys.version.split()[0], np.__version__, sklearn.__version__, onnx.__version__))
    os.makedirs(OUT_DIR, exist_ok=True)
    iris = load_iris()
    X, y = iris.data, iris.target

    csv_path = os.path.join(OUT_DIR, "iris.csv")
    write_csv(iris, csv_path)
    print("wrote %s (%d rows)" % (os.path.relpath(csv_path), len(y)))
    # Train on exactly what the CSV holds (1-decimal values).
    X = np.loadtxt(csv_path, delimiter=",", skiprows=1, usecols=range(4))
    assert np.array_equal(np.loadtxt(csv_path, delimiter=",", skiprows=1, usecols=4).astype(int), y)

    # learning_rate 0.3 (not the default 0.1, which gives 0.973): with 20 depth-2 rounds it fits the
    # training data exactly, so the two example models give visibly different predictions.
    gbt = GradientBoostingClassifier(n_estimators=20, max_depth=2, learning_rate=0.3, random_state=0)
    gbt.fit(X, y)
    m = build_gbt(gbt)
    save(m, os.path.join(OUT_DIR, "iris_gbt.onnx"))
    check("iris_gbt", m, gbt, X, y)

    lr = LogisticRegression(max_iter=1000, random_state=0)
    lr.fit(X, y)
    m = build_logreg(lr)
    save(m, os.path.join(OUT_DIR, "iris_logreg.onnx"))
    check("iris_logreg", m, lr, X, y)


if __name__ == "__main__":
    main()
