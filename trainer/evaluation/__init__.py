"""Evaluation of trained models: HumanEval pass@k in a contained sandbox, bits per byte."""
