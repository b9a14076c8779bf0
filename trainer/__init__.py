"""Data-constrained scaling laws, the epoch planner, the model and DeepSpeed training.

Heavy imports (torch, deepspeed) happen inside functions; the API never imports
this package at start-up.
"""
