"""The model server and local prediction: TF Serving's REST and gRPC protocols over the pushed
versions of a serving dir (`server.py`), and `fashion-pipeline predict` (`predict.py`).

Imports fashion_mnist for the model's contract, never components/ or pipeline/.
"""
