"""Detection quality on labelled data: ``squall evaluate``.

``labels``     NAB's ``combined_windows.json`` and the synthetic generator's ``labels.csv``
``metrics``    event-level overlap rule (Orion's contextual F1, unweighted), pooled per dataset
``nab``        the NAB score (standard profile), normalised between the null and perfect detectors
``detectors``  detector configurations (the default autoencoder detector and two baselines)
``harness``    the NAB protocol over many series, result tables, one-screen summary
"""
