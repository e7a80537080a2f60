"""PyTorch models built from a bundle's layer list, and training (needs the ``train`` extra)."""
