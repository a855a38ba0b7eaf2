"""The ServedModel operator for TensorFlow Serving."""
