"""VGG16's feature layers: their names in network order and their widths."""

# VGG16's feature layers in network order; the losses may use any of them.
VGG16_FEATURE_LAYERS = (
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool",
)
VGG16_CONV_LAYERS = tuple(name for name in VGG16_FEATURE_LAYERS if "conv" in name)
# Output channels of VGG16's conv layers, by block; every block halves the side.
VGG16_BLOCK_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
