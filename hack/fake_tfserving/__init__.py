"""A TensorFlow-Serving-compatible model server for tests and local development.

It stands in for `tensorflow_model_server` where the real binary cannot be installed. Every
behaviour it fakes follows the real server; docs/fake-tfserving.md lists what is implemented and
the TF Serving source each rule comes from.
"""
