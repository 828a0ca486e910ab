"""What tests and benchmarks share: the loopback stack (stack), the hostile-upload
corpus (corpus) and the images that are not CT slices (ood_images). bench/ imports
these (with tests/ on its path, as pytest has it); tests never import bench/."""
