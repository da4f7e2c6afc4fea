"""SEENN reproduction library: data, spiking models, training, exit policies and reports.

Nothing in this package reads params.yaml or writes outside the paths it is given; the DVC stages in
`stages/` do that and call into here.
"""
