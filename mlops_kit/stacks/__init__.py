"""One module per stack. Stacks compose and connect constructs; they build nothing themselves."""
