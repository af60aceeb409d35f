"""Tests of our own expression models: architectures, training, evaluation."""
