"""The networks `neuralfx train --arch` can fit, by name. Kept free of torch so the CLI starts
fast; neuralfx.training.build_model turns a name into a block."""

# hidden_size and num_layers apply to the recurrent ones; the convolutional ones use their named
# layouts (neuralfx.models.wavenet.PRESETS, the TCN defaults).
ARCHITECTURES = ("lstm", "gru", "wavenet-standard", "wavenet-lite", "tcn")
RECURRENT = ("lstm", "gru")
