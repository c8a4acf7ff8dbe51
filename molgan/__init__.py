"""molgan: MolGAN-style graph GANs for drug-like molecules, measured with strict metrics."""

__version__ = "0.1.0"
