"""Real models for the demo and the serving test: scikit-learn on the iris data it ships.

  python iris.py train NAME       register two versions of NAME (different hyperparameters);
                                  prints {"versions": ["1", "2"]}
  python iris.py predict URI      predictions of the model at URI (models:/…, a path) for SAMPLE
  python iris.py sample -         SAMPLE as a dataframe_split request body for /invocations
  python iris.py v2 -             SAMPLE as a V2 inference request (one input per column, pandas codec)
"""
import json
import sys

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

# Four iris flowers, one row each: sepal length/width, petal length/width (cm).
SAMPLE = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3], [5.9, 3.0, 5.1, 1.8]]


def train(name: str) -> None:
    features, labels = load_iris(return_X_y=True, as_frame=True)
    mlflow.set_experiment("mlflow2seldon-iris")
    versions = []
    for c in (0.05, 1.0):
        with mlflow.start_run():
            model = LogisticRegression(C=c, max_iter=500).fit(features, labels)
            mlflow.log_param("C", c)
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=name, input_example=features.head(2)
            )
            versions.append(str(info.registered_model_version))
    print(json.dumps({"versions": versions}))


def columns() -> list:
    return list(load_iris(as_frame=True).feature_names)


def predict(uri: str) -> None:
    import pandas as pd

    frame = pd.DataFrame(SAMPLE, columns=columns())
    print(json.dumps({"predictions": [int(p) for p in mlflow.pyfunc.load_model(uri).predict(frame)]}))


def sample(_: str) -> None:
    print(json.dumps({"dataframe_split": {"columns": columns(), "data": SAMPLE}}))


def v2(_: str) -> None:
    inputs = [
        {"name": column, "shape": [len(SAMPLE), 1], "datatype": "FP64", "data": [row[i] for row in SAMPLE]}
        for i, column in enumerate(columns())
    ]
    print(json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}))


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    {"train": train, "predict": predict, "sample": sample, "v2": v2}[command](argument)
