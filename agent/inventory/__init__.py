"""Image inventory: an image's files and packages, walked from its layers on the node."""
