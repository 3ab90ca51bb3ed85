"""The whole appliance: the `booth` command and the tools that span every process
(`up`, `snap`, `doctor`, child supervision). The only package that may import every other."""
