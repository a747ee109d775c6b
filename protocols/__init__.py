"""The shared language of Wayside: what edge, cloud and devices must agree on bit for bit."""
