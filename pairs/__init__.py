"""pairs: contrastive self-supervised learning across domains.

Views (``pairs.views``), pairing datasets (``pairs.pairing``), one loss family (``pairs.losses``), methods
(``pairs.methods``), one trainer (``pairs.train``) and evaluation (``pairs.eval``).
"""

__version__ = "0.1.0"
