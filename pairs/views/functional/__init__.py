"""Functional kernels of the views: pure functions of the data and explicit parameters.

Layout (the torchvision ``transforms.functional`` way, one module per domain):

* :mod:`pairs.views.functional.image`: kernels of :mod:`pairs.views.image`;
* :mod:`pairs.views.functional.temporal`: kernels of :mod:`pairs.views.temporal`;
* :mod:`pairs.views.functional.graph`: kernels of :mod:`pairs.views.graph`;
* :mod:`pairs.views.functional.audio`: the kernels of :mod:`pairs.views.audio` (``time_shift``,
  ``gain``, ``add_noise``, ``filter_fft``, ``pitch_shift``, ``time_stretch``), which live in the audio
  modules and are gathered here under the same layout.

A kernel never draws random numbers: it takes the batch and the parameters a view's ``sample`` drew
(the ``params`` of ``view(x, generator, return_params=True)``), and applied to them it gives the
view's output. The view classes validate their arguments, draw the parameters from an explicit
generator and call their kernel; the kernels keep the views' dtypes (half precision computed in float32)
and devices. Domain submodules are imported on demand (``from pairs.views.functional import image``),
so importing this package pulls in neither torchvision nor torch_geometric.
"""
