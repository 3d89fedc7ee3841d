"""The series views under the domain's public name: everything of :mod:`pairs.views.temporal`.

The domain is called *series* wherever a user names it (``--data series:...``, :mod:`pairs.data.series`,
:mod:`pairs.domains.series`); the view and encoder modules are named *temporal* (:mod:`pairs.views.temporal`,
:mod:`encoders.temporal`), the word of the TS2Vec / TS-TCC literature. Both names give the same objects::

    from pairs.views.series import Jitter, ts2vec_view  # the same as from pairs.views.temporal

This module declares no ``__all__`` of its own, so tools that walk the public modules (docs, the fuzz tests)
meet every view once, under :mod:`pairs.views.temporal`.
"""

from pairs.views.temporal import *  # noqa: F403
