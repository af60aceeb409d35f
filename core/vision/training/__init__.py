"""Expression networks of our own: architectures (``models``), folder data and
augmentation (``data``), the resumable training loop (``train``), checkpoint files
(``checkpoints``), ten-crop TTA and confusion images (``evaluate``) and
``classroom model train`` (``cli``). Docs: docs/models.md."""
