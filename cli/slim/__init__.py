"""``snoop slim``: a slim image built from the cluster's evidence, with only what the image's containers used."""
