"""Small plugins the kernel's tests enable by dotted name."""
